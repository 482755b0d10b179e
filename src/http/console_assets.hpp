// The console's compiled-in assets: the stylesheet, the one small script and the Mustache
// templates of every page. Nothing the console shows is fetched from anywhere else.
#pragma once

#include <string_view>

namespace dunning::http::console_assets {

// Plain CSS: system fonts, a visible focus ring, tables that scroll sideways on a phone.
// Colours keep at least 4.5:1 contrast against their backgrounds (WCAG 2.1 AA).
inline constexpr std::string_view kCss = R"css(
:root { --fg: #1a1a1a; --muted: #4a4a4a; --bg: #ffffff; --line: #c8c8c8; --accent: #0b4f9c;
        --bad: #9b1c1c; --ok: #1d6b2f; --warn: #7a4b00; --panel: #f3f5f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible,
textarea:focus-visible, summary:focus-visible, .table-wrap:focus-visible { outline: 3px solid #e08a00; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 2; }
header { background: #10233f; color: #fff; }
header nav { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem;
             max-width: 72rem; margin: 0 auto; padding: .75rem 1rem; }
header .brand { font-weight: 700; color: #fff; text-decoration: none; }
header ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0;
            padding: 0; }
header a { color: #fff; }
header a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header form { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
header button { background: transparent; color: #fff; border: 1px solid #fff; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1rem; }
table { border-collapse: collapse; min-width: 100%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .35rem .6rem; text-align: left;
         vertical-align: top; }
th { background: var(--panel); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end;
               background: var(--panel); padding: .75rem; border-radius: 4px; }
form.filters div { display: flex; flex-direction: column; }
label { font-weight: 600; font-size: .95rem; }
input, select, textarea, button { font: inherit; padding: .35rem .5rem; border: 1px solid #767676;
                                  border-radius: 3px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
textarea { width: 100%; min-height: 20rem; font-family: ui-monospace, monospace; font-size: .9rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
.actions form { margin: 0; }
.flash { background: #e7f4ea; border-left: 4px solid var(--ok); padding: .5rem .75rem; }
.error { background: #fbeaea; border-left: 4px solid var(--bad); padding: .5rem .75rem; }
.state { font-weight: 600; }
.muted { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: 1rem; }
.card { background: var(--panel); padding: .75rem 1rem; border-radius: 4px; }
.card p { margin: .25rem 0; }
.big { font-size: 1.6rem; font-weight: 700; }
.pager { display: flex; gap: 1rem; }
ol.timeline { padding-left: 1.25rem; }
ul.steps { margin: 0; padding-left: 1rem; }
del { color: var(--bad); }
ins { color: var(--ok); text-decoration: none; font-weight: 600; }
.login { max-width: 24rem; margin: 3rem auto; }
.login form div { display: flex; flex-direction: column; margin-bottom: 1rem; }
figure.chart { margin: 1rem 0 1.5rem; }
svg.chart { display: block; width: 100%; max-width: 62rem; height: auto; }
svg.chart .axis, svg.chart .tick, svg.chart .label, svg.chart .value { font-size: 12px; fill: #333; }
@media (max-width: 40rem) {
  header form { margin-left: 0; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dd { margin-bottom: .5rem; }
}
)css";

// Asks before the one action that cannot be undone (closing a case); without JavaScript the
// form simply submits.
inline constexpr std::string_view kJs = R"js(
document.addEventListener("submit", function (e) {
  var form = e.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) e.preventDefault();
});
)js";

inline constexpr std::string_view kLayout = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · dunningd</title>
<link rel="stylesheet" href="/ui/static/console.css">
<script src="/ui/static/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<nav aria-label="Console">
<a class="brand" href="/ui/">dunningd</a>
{{#signed_in}}
<ul>
<li><a href="/ui/"{{#nav_overview}} aria-current="page"{{/nav_overview}}>Overview</a></li>
<li><a href="/ui/cases"{{#nav_cases}} aria-current="page"{{/nav_cases}}>Cases</a></li>
<li><a href="/ui/report"{{#nav_report}} aria-current="page"{{/nav_report}}>Report</a></li>
<li><a href="/ui/ledger"{{#nav_ledger}} aria-current="page"{{/nav_ledger}}>Ledger</a></li>
<li><a href="/ui/sequences"{{#nav_sequences}} aria-current="page"{{/nav_sequences}}>Sequences</a></li>
</ul>
<form method="post" action="/ui/logout">
<input type="hidden" name="csrf" value="{{csrf}}">
<span>Signed in as <strong id="role">{{role}}</strong></span>
<button type="submit">Sign out</button>
</form>
{{/signed_in}}
</nav>
</header>
<main id="main">
<h1>{{title}}</h1>
{{#flash}}<p class="flash" role="status">{{flash}}</p>{{/flash}}
{{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
{{{body}}}
</main>
</body>
</html>
)html";

inline constexpr std::string_view kLogin = R"html(<div class="login">
<form method="post" action="/ui/login">
<input type="hidden" name="csrf" value="{{login_csrf}}">
<input type="hidden" name="next" value="{{next}}">
<div><label for="user">User</label>
<select id="user" name="user" autocomplete="username">
<option value="admin">admin</option>
<option value="finance">finance</option>
</select></div>
<div><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></div>
<button type="submit" id="sign-in">Sign in</button>
</form>
<p class="muted">Admins may pause, resume and close cases; finance reads everything and changes
nothing.</p>
</div>
)html";

inline constexpr std::string_view kOverview = R"html(<section aria-labelledby="health-h">
<h2 id="health-h">Health</h2>
<div class="cards">
<div class="card"><p>Status</p><p class="big" id="health-status">{{health_status}}</p></div>
<div class="card"><p>Last poll</p><p class="big" id="last-tick">{{health_last_tick}}</p></div>
<div class="card"><p>Outbox depth (pending steps)</p><p class="big" id="outbox-depth">{{health_outbox_depth}}</p></div>
<div class="card"><p>Open cases</p><p class="big" id="open-cases">{{open_cases}}</p>
<p class="muted">{{paused_cases}} paused</p></div>
</div>
{{#health_poll_error}}<p class="error">Last poll error: {{health_poll_error}}</p>{{/health_poll_error}}
{{#has_paused_channels}}
<div class="table-wrap" tabindex="0"><table id="paused-channels">
<caption>Channels paused for everyone (the server's answer)</caption>
<thead><tr><th scope="col">Channel</th><th scope="col">Server's answer</th><th scope="col">Since</th><th scope="col">Next attempt</th></tr></thead>
<tbody>{{#paused_channels}}<tr><td>{{channel}}</td><td>{{reason}}</td><td>{{since}}</td><td>{{retry_at}}</td></tr>{{/paused_channels}}</tbody>
</table></div>
{{/has_paused_channels}}
{{^has_paused_channels}}<p>No channel is paused.</p>{{/has_paused_channels}}
</section>
<section aria-labelledby="cases-h">
<h2 id="cases-h">Cases by state</h2>
<div class="table-wrap" tabindex="0"><table id="cases-by-state">
<thead><tr><th scope="col">State</th><th scope="col" class="num">Cases</th></tr></thead>
<tbody>{{#states}}<tr><th scope="row"><a href="/ui/cases?state={{state}}">{{state}}</a></th><td class="num">{{n}}</td></tr>{{/states}}</tbody>
</table></div>
</section>
<section aria-labelledby="month-h">
<h2 id="month-h">This month ({{month}}, UTC), per currency</h2>
<p class="muted">Money that moved since {{month_start}}, from the ledger. Currencies are never added together.</p>
{{#has_month}}
<div class="table-wrap" tabindex="0"><table id="month">
<thead><tr><th scope="col">Currency</th><th scope="col" class="num">Recovered</th><th scope="col" class="num">Recovered without contact</th><th scope="col" class="num">Lost</th><th scope="col" class="num">Cancelled</th><th scope="col" class="num">Corrections</th></tr></thead>
<tbody>{{#month_rows}}<tr><th scope="row">{{currency}}</th><td class="num" data-kind="recovered">{{recovered}}</td><td class="num" data-kind="recovered_without_contact">{{without_contact}}</td><td class="num" data-kind="lost">{{lost}}</td><td class="num" data-kind="cancelled">{{cancelled}}</td><td class="num">{{correction}}</td></tr>{{/month_rows}}</tbody>
</table></div>
{{/has_month}}
{{^has_month}}<p>No money moved this month yet.</p>{{/has_month}}
</section>
<section aria-labelledby="month-funnel-h">
<h2 id="month-funnel-h">Cases opened this month: uplift and funnel</h2>
<p class="muted">From the report of the cases opened since {{month_first_day}}, outcomes as of {{month_report_as_of}} (rebuilt at most once a minute); the whole report: <a href="/ui/report?from={{month_first_day}}" id="month-report">this month's report</a>.</p>
<p id="month-uplift"><strong>Uplift against the holdout group:</strong> {{month_uplift}}</p>
<div class="table-wrap" tabindex="0"><table id="month-funnel">
<caption>Funnel: cases that reached each step, and recovered after it before the next</caption>
<thead><tr><th scope="col">Sequence</th><th scope="col" class="num">Step</th><th scope="col">Channel</th><th scope="col">Template</th><th scope="col" class="num">Cases reached</th><th scope="col" class="num">Recovered after it</th></tr></thead>
<tbody>{{#month_funnel}}<tr><th scope="row">{{sequence}}</th><td class="num">{{step}}</td><td>{{channel}}</td><td>{{template}}</td><td class="num">{{reached}}</td><td class="num">{{after}}</td></tr>{{/month_funnel}}
{{^month_funnel}}<tr><td colspan="6">No step was sent yet for cases opened this month.</td></tr>{{/month_funnel}}</tbody>
</table></div>
</section>
)html";

inline constexpr std::string_view kCases =
    R"html(<form class="filters" method="get" action="/ui/cases" role="search" aria-label="Filter cases">
<div><label for="f-state">State</label>
<select id="f-state" name="state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></div>
<div><label for="f-sequence">Sequence</label>
<select id="f-sequence" name="sequence">{{#sequences}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sequences}}</select></div>
<div><label for="f-decline">Decline code</label><input id="f-decline" name="decline" value="{{filter_decline}}" size="18"></div>
<div><label for="f-currency">Currency</label><input id="f-currency" name="currency" value="{{filter_currency}}" size="4" maxlength="3"></div>
<div><label for="f-customer">Customer id or email</label><input id="f-customer" name="customer" value="{{filter_customer}}"></div>
<div><button type="submit" id="apply-filters">Filter</button></div>
</form>
<div class="table-wrap" tabindex="0"><table id="cases">
<caption>{{count}} case(s) on this page{{#filtered}}, filtered{{/filtered}}</caption>
<thead><tr><th scope="col">Case</th><th scope="col">State</th><th scope="col">Sequence</th><th scope="col">Customer</th><th scope="col" class="num">Amount</th><th scope="col">Decline code</th><th scope="col">Opened</th><th scope="col">Next step due</th></tr></thead>
<tbody>
{{#cases}}<tr><th scope="row"><a href="/ui/cases/{{id}}">#{{id}}</a></th><td class="state">{{state}}</td><td>{{sequence}}</td><td>{{customer}}</td><td class="num">{{amount}}</td><td>{{decline}}</td><td>{{opened}}</td><td>{{next_due}}</td></tr>
{{/cases}}
{{^cases}}<tr><td colspan="8">No case matches.</td></tr>{{/cases}}
</tbody></table></div>
<nav class="pager" aria-label="Pages">
{{#first_href}}<a href="{{first_href}}">First page</a>{{/first_href}}
{{#next_href}}<a href="{{next_href}}" id="next-page" rel="next">Next page</a>{{/next_href}}
</nav>
)html";

inline constexpr std::string_view kCase = R"html(<dl class="facts" id="facts">
<dt>State</dt><dd class="state" id="case-state">{{state}}</dd>
<dt>Customer</dt><dd>{{customer_id}}{{#customer_email}} · {{customer_email}}{{/customer_email}}{{#customer_name}} ({{customer_name}}){{/customer_name}}</dd>
<dt>Invoice</dt><dd>{{invoice}}</dd>
<dt>Amount</dt><dd>{{amount}}{{#outstanding}} · outstanding {{outstanding}}{{/outstanding}}</dd>
<dt>Decline code</dt><dd>{{decline}}</dd>
<dt>Sequence</dt><dd>{{sequence}}{{#holdout}} · holdout (no contact){{/holdout}}</dd>
<dt>Opened</dt><dd>{{opened}}</dd>
{{#closed}}<dt>Closed</dt><dd>{{closed}}</dd>{{/closed}}
<dt>Charge attempts</dt><dd>{{attempts}}</dd>
<dt>Time zone</dt><dd>{{zone}}{{#zone_note}} ({{zone_note}}){{/zone_note}}</dd>
</dl>
<h2>Plan</h2>
<p class="muted">The same plan the customer's messages state and the API returns.</p>
<dl class="facts" id="plan">
<dt>Next retry</dt><dd id="next-retry">{{#next_retry}}<time datetime="{{at}}">{{at}}</time> ({{local}}) — {{why}}{{/next_retry}}{{^next_retry}}none planned{{/next_retry}}</dd>
<dt>Next contact</dt><dd id="next-contact">{{#next_contact}}<time datetime="{{at}}">{{at}}</time> ({{local}}) — {{what}}: {{why}}{{/next_contact}}{{^next_contact}}none planned{{/next_contact}}</dd>
<dt>Final step</dt><dd id="final-step">{{#final_step}}<time datetime="{{at}}">{{at}}</time> ({{local}}) — {{what}}: {{why}}{{/final_step}}{{^final_step}}none{{/final_step}}</dd>
</dl>
{{#admin}}
<div class="actions">
{{#can_pause}}<form method="post" action="/ui/cases/{{id}}/pause"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="pause">Pause case</button></form>{{/can_pause}}
{{#can_resume}}<form method="post" action="/ui/cases/{{id}}/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="resume">Resume case</button></form>{{/can_resume}}
{{#can_close}}<form method="post" action="/ui/cases/{{id}}/close" data-confirm="Close case #{{id}} as cancelled? This cannot be undone."><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger" id="close">Close case</button></form>{{/can_close}}
</div>
{{/admin}}
<h2>Timeline</h2>
<div class="table-wrap" tabindex="0"><table id="timeline">
<thead><tr><th scope="col">When (UTC)</th><th scope="col">What</th><th scope="col">Details</th></tr></thead>
<tbody>{{#timeline}}<tr><td><time datetime="{{at}}">{{at}}</time></td><td>{{kind}}</td><td>{{detail}}</td></tr>{{/timeline}}</tbody>
</table></div>
<h2>Outbox</h2>
<div class="table-wrap" tabindex="0"><table id="outbox">
<thead><tr><th scope="col" class="num">Step</th><th scope="col">Channel</th><th scope="col">Template / action</th><th scope="col">Result</th><th scope="col" class="num">Attempts</th><th scope="col">Due</th><th scope="col">Sent</th><th scope="col">Server's answer</th></tr></thead>
<tbody>{{#outbox}}<tr><td class="num">{{step}}</td><td>{{channel}}</td><td>{{what}}</td><td>{{state}}</td><td class="num">{{attempts}}</td><td>{{due}}</td><td>{{sent}}</td><td>{{answer}}</td></tr>{{/outbox}}
{{^outbox}}<tr><td colspan="8">No step queued yet.</td></tr>{{/outbox}}</tbody>
</table></div>
<h2>Ledger rows</h2>
<div class="table-wrap" tabindex="0"><table id="case-ledger">
<thead><tr><th scope="col">Row</th><th scope="col">Kind</th><th scope="col" class="num">Amount</th><th scope="col">When</th><th scope="col">Attributed to</th><th scope="col">Note</th></tr></thead>
<tbody>{{#ledger}}<tr><td>{{id}}</td><td>{{kind}}</td><td class="num">{{amount}}</td><td>{{at}}</td><td>{{attribution}}</td><td>{{note}}</td></tr>{{/ledger}}
{{^ledger}}<tr><td colspan="6">None yet.</td></tr>{{/ledger}}</tbody>
</table></div>
)html";

inline constexpr std::string_view kReport =
    R"html(<form class="filters" method="get" action="/ui/report" aria-label="Report period">
<div><label for="r-from">Cases opened from (UTC)</label><input id="r-from" name="from" type="date" value="{{from}}"></div>
<div><label for="r-to">Before (exclusive)</label><input id="r-to" name="to" type="date" value="{{to}}"></div>
<div><label for="r-by">Group by</label>
<select id="r-by" name="by">{{#group_options}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/group_options}}</select></div>
<div><button type="submit" id="show-report">Show</button></div>
</form>
<p>Download: <a href="/ui/report.csv{{query}}" id="dl-csv">CSV</a> · <a href="/ui/report.json{{query}}" id="dl-json">JSON</a> · <a href="/ui/report.html{{query}}" id="dl-html">HTML with charts</a>
· the <a href="/ui/ledger{{ledger_query}}">ledger rows</a> of the period.</p>
<p class="muted">The same numbers as <code>dunningd report</code>{{#cli}} (<code>{{cli}}</code>){{/cli}}; outcomes as of {{as_of}}.
Amounts are per currency and never added across currencies.</p>
<div class="table-wrap" tabindex="0"><table id="totals">
<caption>Totals: {{totals_cases}} case(s), recovery rate {{totals_rate}}</caption>
<thead><tr><th scope="col">Currency</th><th scope="col" class="num">Cases</th><th scope="col" class="num">Failed amount</th><th scope="col" class="num">Recovered</th><th scope="col" class="num">Without contact</th><th scope="col" class="num">Partial</th><th scope="col" class="num">Late</th><th scope="col" class="num">Refunded</th><th scope="col" class="num">Net recovered</th><th scope="col" class="num">Lost</th><th scope="col" class="num">Cancelled</th><th scope="col" class="num">Open</th><th scope="col" class="num">Recovery rate</th><th scope="col" class="num">Median days</th></tr></thead>
<tbody>{{#totals}}<tr><th scope="row">{{currency}}</th>{{#cells}}<td class="num" data-key="{{key}}" data-value="{{value}}">{{text}}</td>{{/cells}}</tr>{{/totals}}
{{^totals}}<tr><td colspan="14">No case opened in this period.</td></tr>{{/totals}}</tbody>
</table></div>
{{#has_groups}}
<h2>By {{group_by}}</h2>
<div class="table-wrap" tabindex="0"><table id="groups">
<thead><tr><th scope="col">{{group_by}}</th><th scope="col">Currency</th><th scope="col" class="num">Cases</th><th scope="col" class="num">Recovered</th><th scope="col" class="num">Lost</th><th scope="col" class="num">Recovery rate</th></tr></thead>
<tbody>{{#groups}}<tr><th scope="row">{{group}}</th><td>{{currency}}</td><td class="num" data-key="{{key}}/cases">{{cases}}</td><td class="num">{{recovered}}</td><td class="num">{{lost}}</td><td class="num">{{rate}}</td></tr>{{/groups}}</tbody>
</table></div>
{{/has_groups}}
<h2>Uplift against the holdout group</h2>
<p id="uplift">{{uplift}}</p>
<h2>Funnel</h2>
<div class="table-wrap" tabindex="0"><table id="funnel">
<thead><tr><th scope="col">Sequence</th><th scope="col" class="num">Step</th><th scope="col">Channel</th><th scope="col">Template</th><th scope="col" class="num">Cases reached</th><th scope="col" class="num">Recovered after it</th></tr></thead>
<tbody>{{#funnel}}<tr><th scope="row">{{sequence}}</th><td class="num">{{step}}</td><td>{{channel}}</td><td>{{template}}</td><td class="num">{{reached}}</td><td class="num">{{after}}</td></tr>{{/funnel}}
{{^funnel}}<tr><td colspan="6">No step was sent for cases of this period.</td></tr>{{/funnel}}</tbody>
</table></div>
<h2>Charts</h2>
<div id="charts">{{{charts}}}</div>
)html";

inline constexpr std::string_view kLedger =
    R"html(<form class="filters" method="get" action="/ui/ledger" aria-label="Ledger period">
<div><label for="l-from">Money moved from (UTC)</label><input id="l-from" name="from" type="date" value="{{from}}"></div>
<div><label for="l-to">Before (exclusive)</label><input id="l-to" name="to" type="date" value="{{to}}"></div>
<div><button type="submit">Show</button></div>
</form>
<p>Download the rows of this period: <a href="/ui/ledger.csv{{query}}" id="dl-ledger-csv">CSV</a> · <a href="/ui/ledger.json{{query}}">JSON</a></p>
<div class="table-wrap" tabindex="0"><table id="ledger">
<caption>Page {{page}}</caption>
<thead><tr><th scope="col">Row</th><th scope="col">When (UTC)</th><th scope="col">Kind</th><th scope="col">Case</th><th scope="col">Customer</th><th scope="col">Invoice</th><th scope="col" class="num">Amount</th><th scope="col">Sequence · step</th><th scope="col">Attribution</th><th scope="col">Note</th></tr></thead>
<tbody>{{#rows}}<tr><td>{{id}}</td><td>{{at}}</td><td>{{kind}}</td><td><a href="/ui/cases/{{case_id}}">#{{case_id}}</a></td><td>{{customer}}</td><td>{{invoice}}</td><td class="num">{{amount}}</td><td>{{step}}</td><td>{{attribution}}</td><td>{{note}}</td></tr>{{/rows}}
{{^rows}}<tr><td colspan="10">No ledger row in this period.</td></tr>{{/rows}}</tbody>
</table></div>
<nav class="pager" aria-label="Pages">
{{#prev_href}}<a href="{{prev_href}}" rel="prev">Previous page</a>{{/prev_href}}
{{#next_href}}<a href="{{next_href}}" rel="next">Next page</a>{{/next_href}}
</nav>
)html";

inline constexpr std::string_view kSequences =
    R"html(<p class="muted">Running from <code>{{file}}</code>, first match wins, top to bottom. Send window and caps: {{defaults}}.</p>
{{#sequences}}
<section aria-labelledby="seq-{{index}}">
<h2 id="seq-{{index}}">{{id}} <span class="muted">({{trigger}}{{#match}}, {{match}}{{/match}})</span></h2>
<ol class="timeline">{{#steps}}<li><strong>{{at}}</strong> — {{what}}{{#extra}} <span class="muted">({{extra}})</span>{{/extra}}</li>{{/steps}}</ol>
{{#stop_on}}<p class="muted">Stops on: {{stop_on}}</p>{{/stop_on}}
</section>
{{/sequences}}
{{#admin}}
<h2 id="check-h">Check a changed sequences.yaml</h2>
<p>Paste the whole file. It is checked as <code>dunningd check</code> would check it (line:column of every finding); nothing is written and the running sequences do not change.</p>
<form method="post" action="/ui/sequences/check" aria-labelledby="check-h">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="yaml">sequences.yaml</label>
<textarea id="yaml" name="yaml" spellcheck="false">{{yaml}}</textarea>
<p><button type="submit" id="check">Check</button></p>
<fieldset class="filters"><legend>Or preview it: replay a past period with the running sequences and with this file, side by side (nothing is sent or written)</legend>
<div><label for="p-from">Payments from (UTC)</label><input id="p-from" name="from" type="date" value="{{preview_from}}"></div>
<div><label for="p-to">To (inclusive)</label><input id="p-to" name="to" type="date" value="{{preview_to}}"></div>
<div><button type="submit" formaction="/ui/sequences/preview" id="preview-button">Preview</button></div>
</fieldset>
</form>
{{#preview}}
<h2 id="preview-h">Preview, {{from}} to {{to}}</h2>
<p class="muted"><code>dunningd simulate</code> on a copy of the database, once with the running sequences and once with the pasted file: {{current_summary}} now; {{proposed_summary}} with the change.</p>
<div class="table-wrap" tabindex="0"><table id="preview">
<caption>Per sequence: the running rules, then the pasted file</caption>
<thead><tr><th scope="col">Sequence</th><th scope="col" class="num">Cases now</th><th scope="col" class="num">Cases with the change</th><th scope="col" class="num">Messages now</th><th scope="col" class="num">Messages with the change</th><th scope="col" class="num">Retries now</th><th scope="col" class="num">Retries with the change</th><th scope="col" class="num">Recovered now</th><th scope="col" class="num">Recovered with the change</th><th scope="col" class="num">Lost now</th><th scope="col" class="num">Lost with the change</th></tr></thead>
<tbody>{{#rows}}<tr><th scope="row">{{sequence}}</th>{{#cells}}<td class="num" data-side="{{side}}" data-key="{{key}}">{{n}}</td>{{/cells}}</tr>{{/rows}}</tbody>
</table></div>
{{/preview}}
{{#checked}}
<h2 id="findings-h">Findings</h2>
{{#clean}}<p class="flash" id="check-ok">No findings: {{count}} sequence(s) would load.</p>{{/clean}}
{{^clean}}
<div class="table-wrap" tabindex="0"><table id="findings">
<thead><tr><th scope="col">Line:column</th><th scope="col">Severity</th><th scope="col">Finding</th></tr></thead>
<tbody>{{#findings}}<tr><td>{{where}}</td><td>{{severity}}</td><td>{{message}}</td></tr>{{/findings}}</tbody>
</table></div>
{{/clean}}
{{#has_changes}}
<div class="table-wrap" tabindex="0"><table id="changes">
<caption>Compared with the running sequences</caption>
<thead><tr><th scope="col">Sequence</th><th scope="col">Change</th><th scope="col">Running steps</th><th scope="col">Pasted steps</th></tr></thead>
<tbody>{{#changes}}<tr><th scope="row">{{id}}</th><td class="change">{{change}}</td>
<td><ul class="steps">{{#running_steps}}<li>{{#differs}}<del>{{/differs}}{{text}}{{#differs}}</del> <span class="muted">(not in the pasted file)</span>{{/differs}}</li>{{/running_steps}}</ul></td>
<td><ul class="steps">{{#pasted_steps}}<li>{{#differs}}<ins>{{/differs}}{{text}}{{#differs}}</ins> <span class="muted">(new)</span>{{/differs}}</li>{{/pasted_steps}}</ul></td></tr>{{/changes}}</tbody>
</table></div>
{{/has_changes}}
{{/checked}}
{{/admin}}
)html";

inline constexpr std::string_view kMessage = R"html(<p>{{message}}</p>
<p><a href="{{back}}">{{back_label}}</a></p>
)html";

}  // namespace dunning::http::console_assets
