import protobuf from 'protobufjs';

/**
 * The part of ONNX's protobuf schema (onnx/onnx.proto, IR version 8) a graph of plain tensors
 * needs: a model, its graph, nodes with int/float/ints attributes, and raw-data initializers.
 * Field numbers are the schema's; protobufjs does the encoding.
 */
const schema = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } } },
        TypeProtoTensor: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
});
const ModelProto = schema.lookupType('onnx.ModelProto');

/** ONNX element types (TensorProto.DataType) used here. */
export const OnnxType = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7 } as const;

/**
 * ONNX Runtime's own operators (MatMulNBits and the like) live in this domain, version 1; a graph
 * that uses one imports it beside the default opset.
 */
export const MICROSOFT_DOMAIN = 'com.microsoft';
/** AttributeProto.AttributeType values used here. */
const ATTRIBUTE = { FLOAT: 1, INT: 2, INTS: 7 } as const;

type Attribute = number | { float: number } | number[];
type ValueInfo = { name: string; elemType: number; shape: (number | string)[] };

/**
 * Builds one ONNX graph node by node. Every node output gets a fresh name, so a graph is written
 * as a chain of calls: `const y = g.op('Add', [a, b])`.
 */
export class OnnxGraphBuilder {
  readonly #nodes: Record<string, unknown>[] = [];
  readonly #initializers: Record<string, unknown>[] = [];
  readonly #constants = new Map<string, string>();
  readonly #domains = new Set<string>();
  #next = 0;

  /** A weight or constant tensor stored in the model. */
  initializer(
    name: string,
    dims: number[],
    data: Float32Array | BigInt64Array | Uint8Array | Int8Array,
  ): string {
    const elements = dims.reduce((a, b) => a * b, 1);
    if (elements !== data.length)
      throw new Error(`ONNX initializer ${name}: ${data.length} values for [${dims}]`);
    // raw_data is little-endian, as typed arrays are on every platform Node runs on.
    this.#initializers.push({
      name,
      dims,
      dataType:
        data instanceof Float32Array
          ? OnnxType.FLOAT
          : data instanceof BigInt64Array
            ? OnnxType.INT64
            : data instanceof Int8Array
              ? OnnxType.INT8
              : OnnxType.UINT8,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A small constant, stored once however often it is asked for. */
  constant(values: number[], type: 'float' | 'int64', dims: number[] = [values.length]): string {
    const key = `${type}:${dims}:${values}`;
    const known = this.#constants.get(key);
    if (known) return known;
    const data = type === 'float' ? Float32Array.from(values) : BigInt64Array.from(values.map(BigInt));
    const name = this.initializer(`const_${this.#constants.size}`, dims, data);
    this.#constants.set(key, name);
    return name;
  }

  /**
   * Adds a node; returns its output's name. Attributes: an integer, `{float}`, or a list of
   * integers. `domain`: the operator set the op is from, when it is not ONNX's own.
   */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, Attribute> = {},
    output?: string,
    domain?: string,
  ): string {
    const out = output ?? `${opType.toLowerCase()}_${this.#next++}`;
    if (domain) this.#domains.add(domain);
    this.#nodes.push({
      opType,
      ...(domain ? { domain } : {}),
      name: out,
      input: inputs,
      output: [out],
      attribute: Object.entries(attributes).map(([name, value]) =>
        Array.isArray(value)
          ? { name, type: ATTRIBUTE.INTS, ints: value }
          : typeof value === 'number'
            ? { name, type: ATTRIBUTE.INT, i: value }
            : { name, type: ATTRIBUTE.FLOAT, f: value.float },
      ),
    });
    return out;
  }

  /** The serialized model (ONNX IR 8, default opset 17). */
  encode(o: { name: string; inputs: ValueInfo[]; outputs: ValueInfo[]; producer: string }): Uint8Array {
    const valueInfo = (v: ValueInfo) => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: v.elemType,
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const model = ModelProto.create({
      irVersion: 8,
      producerName: o.producer,
      producerVersion: '1',
      opsetImport: [
        { domain: '', version: 17 },
        ...[...this.#domains].map((domain) => ({ domain, version: 1 })),
      ],
      graph: {
        name: o.name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: o.inputs.map(valueInfo),
        output: o.outputs.map(valueInfo),
      },
    });
    return ModelProto.encode(model).finish();
  }
}
