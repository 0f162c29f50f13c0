/** index.html's stylesheet: the page uses the window's width; tables of signatures fill it. */
export const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{padding:16px 24px 60px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
h4{font-size:14px;margin:14px 0 4px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:8px 10px;overflow-x:auto;margin:4px 0}
table{border-collapse:collapse;margin:4px 0 8px;background:#fff}
th,td{border:1px solid #d5d9e0;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}
table.facts th{white-space:nowrap}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:700;margin:6px 0}
.fail{background:#fde2e1;color:#a11}.pass{background:#dff5e3;color:#175c26}
.partial{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;border-radius:4px;font-weight:600}
.note{background:#eef3fb;border:1px solid #c5d3ea;border-radius:4px;padding:8px 12px;max-width:100em}
.controls{position:sticky;top:0;z-index:2;background:#f6f7f9;border-bottom:1px solid #d5d9e0;padding:8px 0;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
.controls label{white-space:nowrap}
details.group{background:#fff;border:1px solid #d5d9e0;border-left:5px solid #c62828;border-radius:4px;margin:8px 0}
details.group.suppressed{border-left-color:#8a8f99}
details.group>summary{cursor:pointer;padding:8px 12px;list-style-position:outside}
details.group>summary .gid{font-weight:700;margin-right:6px}
details.group>summary .hyp{font-weight:600}
.gbody{padding:0 12px 10px}
table.sigs{width:100%}
table.sigs td:first-child{width:1.5em}
table.sigs button{border:0;background:none;cursor:pointer;font-size:13px;padding:0 2px}
table.sigs button[aria-expanded=true]{transform:rotate(90deg)}
tr.detail>td{background:#fafbfc;padding:4px 16px 12px}
.chip{display:inline-block;background:#eef0f4;border-radius:3px;padding:0 5px;margin-right:4px}
tr.wrong td{background:#fde2e1;color:#a11;font-weight:600}
tr.agrees td:last-child{color:#175c26;font-weight:600}
.ok{color:#175c26;font-weight:600}
tr.divergent td{background:#fff1c2;font-weight:600}
.bit{color:#c62828;background:#fde2e1;font-weight:700}
.meta{color:#555}.muted{color:#777}
ul.rows{columns:18em;margin:4px 0;padding-left:18px}
.replay{background:#1d2330;color:#e8eaef;border-color:#1d2330}
details>summary{cursor:pointer}
[hidden]{display:none!important}
tr[id],details.group{scroll-margin-top:70px}
`;
