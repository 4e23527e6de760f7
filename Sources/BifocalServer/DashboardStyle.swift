/// The dashboard's style sheet, served from the binary (no external fonts or files).
///
/// Colours keep at least 4.5:1 contrast for text on their backgrounds; states are told by
/// words and shapes as well as colour (amber and red cells carry a marker and a title).
enum DashboardStyle {
    static let css = #"""
:root {
  --bg: #f4f5f7; --panel: #ffffff; --text: #161b26; --muted: #4a5466; --line: #d5d9e0;
  --accent: #1f4fb8; --ok: #17663a; --warn: #8a4b00; --bad: #b0201a; --low: #5137b0;
  --ok-bg: #e5f3ea; --warn-bg: #fdf0d9; --bad-bg: #fbe3e1; --low-bg: #ece8fb;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 14px; color: var(--text); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, select:focus-visible, input:focus-visible, svg:focus-visible, summary:focus-visible {
  outline: 3px solid #f0a500; outline-offset: 2px;
}
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: 8px; z-index: 10; }
.skip:focus { left: 8px; }
header.top { display: flex; align-items: center; gap: 24px; padding: 8px 16px; background: #10213f; color: #fff; }
header.top .brand { font-weight: 700; font-size: 17px; letter-spacing: .02em; color: #fff; text-decoration: none; }
header.top nav { display: flex; gap: 4px; flex-wrap: wrap; }
header.top nav a { color: #dfe7f7; text-decoration: none; padding: 6px 10px; border-radius: 4px; }
header.top nav a[aria-current="page"] { background: #2c4a82; color: #fff; font-weight: 600; }
header.top nav a:hover { background: #22386a; }
header.top .updated { margin-left: auto; font-size: 12px; color: #c8d3ea; }
form.controls { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; padding: 8px 16px; background: #fff; border-bottom: 1px solid var(--line); }
form.controls label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
form.controls select, form.controls input, form.controls button { font: inherit; font-size: 13px; padding: 4px 6px; border: 1px solid #8992a3; border-radius: 4px; background: #fff; color: var(--text); }
form.controls button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
form.controls .custom[hidden] { display: none; }
form.controls fieldset { border: 0; padding: 0; margin: 0; display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
form.controls fieldset legend { font-size: 12px; color: var(--muted); padding: 0; }
form.controls fieldset label { flex-direction: row; align-items: center; gap: 4px; font-size: 13px; color: var(--text); }
main { padding: 12px 16px 32px; }
h1 { font-size: 20px; margin: 4px 0 10px; }
h2 { font-size: 15px; margin: 18px 0 8px; color: #26324a; }
.banner { border-radius: 6px; padding: 8px 12px; margin-bottom: 10px; border: 1px solid; font-size: 14px; }
.banner.ok { background: var(--ok-bg); border-color: #9fd3b2; color: var(--ok); }
.banner.warn { background: var(--warn-bg); border-color: #e8c07a; color: var(--warn); }
.banner.bad { background: var(--bad-bg); border-color: #eba8a3; color: var(--bad); }
.banner.info { background: #e8effc; border-color: #a9c0ec; color: #1b3f8f; }
.banner ul { margin: 4px 0 0; padding-left: 18px; }
.banner code { background: rgba(255,255,255,.7); padding: 0 3px; border-radius: 3px; }
.table-wrap { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; }
table.status, table.list, table.kv { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.status th, table.status td, table.list th, table.list td { padding: 4px 6px; text-align: right; border-bottom: 1px solid #eceef2; white-space: nowrap; }
table.status thead th { white-space: normal; vertical-align: bottom; }
table.status th:first-child, table.status td:first-child, table.list td.l, table.list th.l { text-align: left; }
table.status thead th, table.list thead th { font-size: 12px; color: var(--muted); font-weight: 600; background: #fafbfc; }
table.status tr.all td { font-weight: 700; border-top: 2px solid var(--line); }
td.ok { color: var(--ok); } td.none { color: #6b7486; }
td.warn { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
td.bad { background: var(--bad-bg); color: var(--bad); font-weight: 700; }
td.low { background: var(--low-bg); color: var(--low); font-weight: 600; }
td.warn::before { content: "▲ "; } td.bad::before { content: "● "; } td.low::before { content: "▼ "; }
.gpus { display: flex; gap: 16px; align-items: center; margin: 8px 0 0; font-size: 14px; }
.gpus .cell { display: inline-block; width: 14px; height: 14px; border-radius: 3px; margin-right: 2px; vertical-align: -2px; }
.gpus .used { background: #1f4fb8; } .gpus .free { background: #fff; border: 2px solid #5137b0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 10px; }
figure.panel { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 8px 6px; position: relative; min-width: 0; }
figure.panel figcaption { font-weight: 600; font-size: 13px; margin: 0 0 2px 4px; }
figure.panel svg { display: block; width: 100%; height: auto; }
figure.panel .empty { color: var(--muted); font-size: 13px; padding: 40px 16px; text-align: center; }
.axis text { font-size: 10px; fill: #3f4859; }
.axis line, .axis path { stroke: #c3c8d1; fill: none; }
.grid-line { stroke: #eceef2; }
.band-low { fill: #5137b0; opacity: .10; } .band-warn { fill: #c27400; opacity: .14; } .band-bad { fill: #c0261f; opacity: .13; }
.band-label { font-size: 9px; fill: #3f4859; }
.series { fill: none; stroke-width: 1.7; }
.series.dashed { stroke-dasharray: 5 3; stroke-width: 1.4; }
.cursor { stroke: #161b26; stroke-width: 1; stroke-dasharray: 2 2; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 11px; color: #2b3344; margin: 2px 4px 0; padding: 0; list-style: none; }
.legend .sw { display: inline-block; width: 14px; height: 0; border-top: 3px solid; margin-right: 4px; vertical-align: middle; }
.legend .sw.dashed { border-top-style: dashed; }
.tip { position: absolute; pointer-events: none; background: rgba(22,27,38,.94); color: #fff; font-size: 11px; padding: 5px 7px; border-radius: 4px; z-index: 5; white-space: nowrap; font-variant-numeric: tabular-nums; }
.tip[hidden] { display: none; }
.tip .sw { display: inline-block; width: 8px; height: 8px; border-radius: 2px; margin-right: 4px; }
.badge { display: inline-block; padding: 1px 6px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.err { background: var(--bad-bg); color: var(--bad); }
table.list td.prompt { text-align: left; max-width: 300px; overflow: hidden; text-overflow: ellipsis; color: var(--muted); }
table.list tbody tr:hover { background: #f3f6fc; }
.pager { display: flex; gap: 12px; align-items: center; margin: 10px 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 6px 16px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; margin: 0; }
.facts div { display: flex; flex-direction: column; }
.facts dt { font-size: 12px; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.strip { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.strip svg { width: 100%; height: auto; display: block; }
.strip .seg-queue { fill: #c27400; } .strip .seg-prefill { fill: #5137b0; } .strip .seg-decode { fill: #1f4fb8; opacity: .18; }
.strip .tick { stroke: #1f4fb8; stroke-width: 1; } .strip .gap { fill: #1f4fb8; } .strip .gap.stall { fill: #b0201a; }
.strip text { font-size: 10px; fill: #2b3344; }
pre.text { white-space: pre-wrap; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px; font-size: 13px; max-height: 320px; overflow: auto; }
.placeholder { background: var(--panel); border: 1px dashed #98a1b2; border-radius: 6px; padding: 16px 20px; max-width: 860px; line-height: 1.5; }
.muted { color: var(--muted); }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
"""#
}
