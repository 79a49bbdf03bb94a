//! The page's own stylesheet and script, inlined into its `<head>` and
//! foot (the page reads nothing from the network).

pub(super) const STYLE: &str = r#"
:root{--ink:#1d1d22;--muted:#5d5d6a;--line:#dcdce3;--bg:#f3f4f6;--head:#1f2a36;--warn:#fff3cd;--warnb:#e69f00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:0 20px 32px}
.top{background:var(--head);color:#fff;padding:18px 0 14px;margin-bottom:16px}
.top .in{max-width:1240px;margin:0 auto;padding:0 20px}
.top h1{margin:0;font-size:22px;font-weight:600}
.top h1 small{font-weight:400;color:#b8c2cc;font-size:14px;margin-left:10px}
.top dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:12px 0 0}
.top dt{color:#b8c2cc}
.top dd{margin:0}
.top code{color:#fff}
nav{margin-top:12px;font-size:13px}
nav a{color:#9fd3f5;margin-right:14px;text-decoration:none}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 20px 16px;margin:14px 0}
h2{font-size:18px;margin:0 0 6px}
h2 .n{color:var(--muted);font-weight:400;font-size:14px;margin-left:8px}
p.note{color:var(--muted);margin:6px 0 0;font-size:13px}
.warn{background:var(--warn);border-left:5px solid var(--warnb);padding:8px 12px;margin:10px 0;border-radius:3px}
.warn b{display:block}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:0}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px}
.card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.card .k{color:var(--muted);font-size:12.5px}
ol.findings{margin:6px 0 0;padding-left:22px}
ol.findings li{margin:0 0 12px}
.finding{font-weight:600}
.fid{display:inline-block;font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:#eef1f5;border:1px solid var(--line);border-radius:3px;padding:0 5px;margin-right:6px;font-weight:400;color:var(--muted)}
ul.evidence{margin:4px 0 4px;padding-left:18px}
ul.evidence li{margin:1px 0}
.tunables code{background:#e7f1f8;border:1px solid #b9d7ea;border-radius:3px;padding:0 5px;margin-right:4px}
.legend{display:flex;flex-wrap:wrap;gap:4px 22px;margin:6px 0 6px;font-size:13px;align-items:center}
.sw{display:inline-block;width:24px;height:0;border-top:3px solid;vertical-align:middle;margin-right:6px}
.sw.band{border-top-width:7px}
.sw.dash{border-top-style:dashed}
.sw.box{height:12px;width:14px;border:none}
.legend .peak{font-variant-numeric:tabular-nums}
.legend .m{color:var(--muted)}
svg{display:block;max-width:100%;height:auto}
figure{margin:6px 0 0}
.row{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:13px}
table.remedies td.num{text-align:right;position:relative}table.remedies .bar{position:absolute;left:0;top:15%;height:70%;background:#e69f0033;z-index:0}table.remedies td{padding:2px 8px}table.remedies td.why{white-space:normal;max-width:260px}
th,td{padding:3px 9px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{font-weight:600;background:#f7f7f9}
.l{text-align:left}
td.spark,th.spark{padding:0 4px}
td.spark svg,th.spark svg{max-width:none;width:250px;height:22px}
.scroll{overflow-x:auto}
@media (max-width:1100px){table.peers th{white-space:normal}table.peers th,table.peers td{padding-left:5px;padding-right:5px}td.spark svg,th.spark svg{width:200px;height:17.6px}}
p.empty{color:var(--muted);margin:6px 0 0;font-style:italic}
tr.filter td{border-bottom:1px solid #c8c8d0;padding:1px 9px 6px;text-align:left;white-space:normal}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
code.wsf{user-select:all;overflow-wrap:anywhere;background:#f5f5f7;padding:1px 4px;border-radius:3px}
button.copy{font:12px system-ui,sans-serif;margin-left:6px;padding:0 8px;border:1px solid #b9b9c3;border-radius:3px;background:#fff;cursor:pointer}
.members{color:var(--muted);font-size:12.5px}
footer{color:var(--muted);font-size:12px;margin-top:18px}
@media print{
 @page{size:A4 landscape;margin:10mm}
 body{background:#fff;font-size:10pt}
 .top{background:#fff;color:#000;border-bottom:2px solid #000;padding:0 0 6px}
 .top dt,.top h1 small{color:#444}
 .top code{color:#000}
 main,.top .in{max-width:none;padding:0}
 nav,button.copy{display:none}
 section{border:none;padding:0;margin:10px 0 0}
 figure,.card,ol.findings li,tr{break-inside:avoid}
 h2{break-after:avoid}
 .warn{border:1px solid #000}
}
"#;

pub(super) const SCRIPT: &str = r#"
document.querySelectorAll('button.copy').forEach(function (b) {
  var c = b.parentNode.querySelector('code.wsf');
  if (!c) { return; }
  b.hidden = false;
  function done() {
    b.textContent = 'copied';
    setTimeout(function () { b.textContent = 'copy'; }, 1500);
  }
  function select() {
    var r = document.createRange();
    r.selectNodeContents(c);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
    try { document.execCommand('copy'); done(); } catch (e) { b.textContent = 'selected'; }
  }
  b.addEventListener('click', function () {
    if (navigator.clipboard) {
      navigator.clipboard.writeText(c.textContent).then(done, select);
    } else {
      select();
    }
  });
});
"#;
