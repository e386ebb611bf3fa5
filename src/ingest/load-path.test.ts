import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Document, type LoadResult, listFiles, loadBytes, loadFile, loadPath } from './index.ts';
import { makeDocx, makePdf } from './testing.ts';

function byId(results: LoadResult[]): Map<string, LoadResult> {
  return new Map(results.map((r) => [r.ok ? r.document.id : (r.id ?? r.source), r]));
}

function doc(results: LoadResult[], id: string): Document {
  const result = byId(results).get(id);
  assert.ok(result?.ok, `${id}: ${JSON.stringify(result)}`);
  return result.document;
}

function reason(results: LoadResult[], id: string): string {
  const result = byId(results).get(id);
  assert.ok(result && !result.ok, `${id} should fail`);
  return result.reason;
}

describe('loadPath', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'attune-load-'));
    const files: Record<string, string | Uint8Array> = {
      'guide.md': '# Guide\n\nHow things work.\n',
      'hr/leave.md': '# Leave\n\n25 days.\n',
      'hr/secret.md': '# Secret\n\nOnly Ann.\n',
      'hr/secret.md.acl.json': '{"public":false,"groups":["hr"],"users":["ann"]}',
      'hr/broken-acl.md': '# Broken\n\nText.\n',
      'hr/broken-acl.md.acl.json': '{"groups": [hr]}',
      'notes/Upper.TXT': 'Upper-case extension.\n',
      'notes/utf16.txt': new Uint8Array([
        0xff,
        0xfe,
        ...new Uint8Array(new Uint16Array([...'héllo'].map((c) => c.charCodeAt(0))).buffer),
      ]),
      'bad/empty.txt': '',
      'bad/binary.txt': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x42]),
      'bad/control.txt': new Uint8Array(Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 0x01 : 0x41))),
      'bad/latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]),
      'bad/big.md': `# Big\n\n${'x'.repeat(10000)}\n`,
      'bad/unknown.xyz': 'what is this',
      'node_modules/pkg/readme.md': '# Should be skipped\n',
      '.git/HEAD.md': '# skipped\n',
      'skip-me/a.md': '# Excluded by option\n',
    };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), content);
    }
    await writeFile(join(root, 'policy.pdf'), await makePdf());
    await writeFile(join(root, 'hr/handbook.docx'), await makeDocx());
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('walks folders with default include/exclude globs; sidecars are never documents', async () => {
    const files = (await listFiles(root)).map((f) => f.slice(root.length + 1).replaceAll('\\', '/'));
    assert.deepEqual(files, [
      'bad/big.md',
      'bad/binary.txt',
      'bad/control.txt',
      'bad/empty.txt',
      'bad/latin1.txt',
      'guide.md',
      'hr/broken-acl.md',
      'hr/handbook.docx',
      'hr/leave.md',
      'hr/secret.md',
      'notes/Upper.TXT',
      'notes/utf16.txt',
      'policy.pdf',
      'skip-me/a.md',
    ]);
    const narrowed = await listFiles(root, { include: ['**/*.md'], exclude: ['skip-me/**', 'bad/**'] });
    assert.deepEqual(
      narrowed.map((f) => f.slice(root.length + 1).replaceAll('\\', '/')),
      ['guide.md', 'hr/broken-acl.md', 'hr/leave.md', 'hr/secret.md'],
    );
  });

  it('loads every good file and reports every bad one, without stopping', async () => {
    const seen: LoadResult[] = [];
    const results = await loadPath(root, { maxFileBytes: 8192, onResult: (r) => seen.push(r) });
    assert.equal(seen.length, results.length);
    assert.equal(reason(results, 'bad/empty.txt'), 'empty file (0 bytes)');
    assert.match(reason(results, 'bad/binary.txt'), /binary content \(NUL bytes\)/);
    assert.match(reason(results, 'bad/control.txt'), /binary content \(\d+% control characters\)/);
    assert.match(reason(results, 'bad/latin1.txt'), /not valid UTF-8/);
    assert.match(reason(results, 'bad/big.md'), /over the 8\.0 KB limit; raise maxFileBytes/);
    assert.match(reason(results, 'hr/broken-acl.md'), /broken-acl\.md\.acl\.json is not valid JSON/);
    for (const result of results) {
      if (!result.ok) assert.ok(result.source.startsWith(root), 'failures name the file');
    }
    assert.equal(doc(results, 'notes/Upper.TXT').text, 'Upper-case extension.');
    assert.equal(doc(results, 'notes/utf16.txt').text, 'héllo');
    assert.equal(doc(results, 'policy.pdf').sections[0]?.page, 1);
    assert.equal(doc(results, 'hr/handbook.docx').title, 'Employee Handbook');
    assert.ok(!byId(results).has('node_modules/pkg/readme.md'));
    assert.ok(!byId(results).has('.git/HEAD.md'));
  });

  it('loads content already in memory the same way', async () => {
    const [upload] = await loadBytes(
      {
        bytes: new TextEncoder().encode('# Upload\n\nFrom the web app.'),
        name: 'upload.md',
        id: 'uploads/upload.md',
      },
      { aclRules: [{ glob: 'uploads/**', users: ['ann'] }] },
    );
    assert.ok(upload?.ok);
    assert.equal(upload.document.title, 'Upload');
    assert.deepEqual(upload.document.acl, { public: false, groups: [], users: ['ann'] });
    const [empty] = await loadBytes({ bytes: new Uint8Array(), name: 'empty.txt' });
    assert.ok(empty && !empty.ok);
    assert.equal(empty.reason, 'empty file (0 bytes)');
  });

  it('reports unsupported and missing files', async () => {
    const [unknown] = await loadFile(join(root, 'bad/unknown.xyz'));
    assert.ok(unknown && !unknown.ok);
    assert.match(unknown.reason, /unsupported file type; supported extensions: md, /);
    const [missing] = await loadPath(join(root, 'nope'));
    assert.ok(missing && !missing.ok);
    assert.equal(missing.reason, 'no such file or folder');
  });

  it('gives stable ids: the path relative to the root with forward slashes', async () => {
    const first = await loadPath(root, { include: ['**/*.md'] });
    const second = await loadPath(root, { include: ['**/*.md'] });
    const leave = doc(first, 'hr/leave.md');
    assert.deepEqual(doc(second, 'hr/leave.md'), leave);
    const [single] = await loadPath(join(root, 'hr/leave.md'));
    assert.ok(single?.ok);
    assert.equal(single.document.id, 'leave.md', 'a single file: relative to its folder');
    const [rooted] = await loadPath(join(root, 'hr/leave.md'), { idRoot: root });
    assert.ok(rooted?.ok);
    assert.equal(rooted.document.id, 'hr/leave.md');
    assert.equal(rooted.document.contentHash, leave.contentHash);
  });

  it('resolves ACLs: sidecar, then config rule, then default; an explicit ACL overrides all', async () => {
    const aclRules = [{ glob: 'hr/**', groups: ['hr-all'] }];
    const results = await loadPath(root, { include: ['**/*.md'], aclRules, defaultVisibility: 'private' });
    assert.deepEqual(doc(results, 'hr/secret.md').acl, { public: false, groups: ['hr'], users: ['ann'] });
    assert.deepEqual(doc(results, 'hr/leave.md').acl, { public: false, groups: ['hr-all'], users: [] });
    assert.deepEqual(doc(results, 'guide.md').acl, { public: false, groups: [], users: [] });
    const open = await loadPath(root, { include: ['guide.md'], defaultVisibility: 'public' });
    assert.deepEqual(doc(open, 'guide.md').acl, { public: true, groups: [], users: [] });
    const acl = { public: false, groups: ['board'], users: [] };
    const flagged = await loadPath(root, { include: ['**/*.md'], aclRules, acl });
    for (const id of ['hr/secret.md', 'hr/leave.md', 'guide.md', 'hr/broken-acl.md']) {
      assert.deepEqual(doc(flagged, id).acl, acl, id);
    }
  });

  it('changes the content hash with the ACL, and only then', async () => {
    const a = doc(await loadPath(root, { include: ['guide.md'], defaultVisibility: 'public' }), 'guide.md');
    const b = doc(await loadPath(root, { include: ['guide.md'], defaultVisibility: 'public' }), 'guide.md');
    const c = doc(await loadPath(root, { include: ['guide.md'], defaultVisibility: 'private' }), 'guide.md');
    assert.equal(a.contentHash, b.contentHash);
    assert.notEqual(a.contentHash, c.contentHash);
  });
});

describe('symbolic links (docs/security.md)', () => {
  it('are never followed: each is skipped and reported, and a file named through one takes the real ACL', async () => {
    const { symlink } = await import('node:fs/promises');
    const base = await mkdtemp(join(tmpdir(), 'attune-links-'));
    try {
      const root = join(base, 'synced');
      const outside = join(base, 'private');
      await mkdir(root);
      await mkdir(outside);
      await writeFile(join(root, 'page.md'), '# Page\n\nA public page.\n');
      await writeFile(join(outside, 'secret.md'), '# Salaries\n\nThe CEO earns 900,000 euros.\n');
      await writeFile(join(outside, 'secret.md.acl.json'), '{"public": false, "groups": ["hr"]}');
      await symlink(join(outside, 'secret.md'), join(root, 'innocent.md'));
      await symlink(join(root, 'page.md'), join(root, 'alias.md'));
      await symlink(root, join(root, 'loop'));
      await symlink(join(base, 'nothing.md'), join(root, 'dangling.md'));
      const results = await loadPath(root, { defaultVisibility: 'public' });
      const loaded = results.filter((r) => r.ok);
      assert.deepEqual(
        loaded.map((r) => (r.ok ? r.document.id : '')),
        ['page.md'],
      );
      const skipped = new Map(
        results.filter((r) => !r.ok).map((r) => [r.source.slice(root.length + 1), r.ok ? '' : r.reason]),
      );
      assert.match(skipped.get('innocent.md')!, /outside the synced folder/);
      assert.match(skipped.get('alias.md')!, /page\.md, which is synced under its own name/);
      assert.match(skipped.get('loop')!, /symbolic link/);
      assert.match(skipped.get('dangling.md')!, /to nothing, or a link loop/);
      assert.ok(!JSON.stringify(results).includes('900,000'), 'the linked secret is never read');
      // Named explicitly, a link is read from its target, under the target's own ACL.
      const named = await loadFile(join(root, 'innocent.md'), { defaultVisibility: 'public' });
      assert.ok(named[0]?.ok);
      assert.deepEqual(named[0].ok && named[0].document.acl, { public: false, groups: ['hr'], users: [] });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('a 255-byte file name is loaded: it simply cannot have a sidecar', async () => {
    const base = await mkdtemp(join(tmpdir(), 'attune-long-'));
    try {
      const name = `${'n'.repeat(252)}.md`;
      await writeFile(join(base, name), '# Long name\n\nStill a document.\n');
      const results = await loadPath(base, { defaultVisibility: 'public' });
      assert.equal(results.length, 1);
      assert.ok(results[0]!.ok, JSON.stringify(results[0]));
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
