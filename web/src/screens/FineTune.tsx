/**
 * Placeholder: the HTTP API has no fine-tune routes yet (create, live events over SSE, cancel), so
 * there is nothing for this screen to show. The loss curve will read those events when they exist.
 */
export function FineTune() {
  return (
    <div className="page">
      <h1>Fine-tune jobs</h1>
      <div className="placeholder" role="note">
        <p>
          <strong>Not available in the web app yet.</strong> The server has no fine-tune routes yet, so this
          screen cannot list jobs or draw their live loss curve.
        </p>
        <p>
          Meanwhile: <code>attune finetune</code> on the command line trains an adapter and writes its loss
          chart (see docs/finetuning.md).
        </p>
      </div>
    </div>
  );
}
