/**
 * A self-contained page that renders /openapi.json as a list of routes with their parameters:
 * no script or style from a CDN, so it works where nothing may leave the machine.
 */
export function docsPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attune API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d232a}
h1{font-size:1.5rem} .route{border:1px solid #d0d7de;border-radius:6px;margin:.75rem 0;padding:.5rem .75rem}
.m{display:inline-block;min-width:4.5rem;font-weight:600;text-transform:uppercase}
.get{color:#0969da}.post{color:#1a7f37}.delete{color:#cf222e} code,pre{font:13px ui-monospace,monospace}
pre{background:#f6f8fa;padding:.5rem;overflow:auto;border-radius:4px} .d{color:#57606a}
</style></head><body>
<h1>Attune HTTP API</h1>
<p>Every route but <code>/health</code>, <code>/openapi.json</code> and this page needs
<code>Authorization: Bearer &lt;key&gt;</code> (<code>attune keys create</code>). Errors are
<code>application/problem+json</code>. The machine-readable description: <a href="/openapi.json">/openapi.json</a>.</p>
<div id="routes">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const out = document.getElementById('routes'); out.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const div = document.createElement('div'); div.className = 'route';
    const head = document.createElement('div');
    const m = document.createElement('span'); m.className = 'm ' + method; m.textContent = method;
    const p = document.createElement('code'); p.textContent = path;
    head.append(m, p); div.append(head);
    const s = document.createElement('div'); s.className = 'd'; s.textContent = (op.summary || '') + (op.description ? ' — ' + op.description : ''); div.append(s);
    const body = op.requestBody && op.requestBody.content && Object.values(op.requestBody.content)[0];
    if (body && body.schema) { const pre = document.createElement('pre'); pre.textContent = JSON.stringify(body.schema, null, 1); div.append(pre); }
    out.append(div);
  }
});
</script></body></html>`;
}
