//! Latency: the slowest calls with LIST included, clusterloader2's SLO view, heatmaps split by band.

use super::{NOT_STREAMING, alt, always, from, panel};
use crate::{Alternative, Panel, Row, Unit, Visualisation};

/// The keys of one call, as clusterloader2 reports them.
const CALL: &str = "verb, group, resource, subresource, scope";
const SLO_KEY: &str = "verb, resource, subresource, scope";
/// clusterloader2's SLO filters: non-streaming calls only.
const SLO_FILTER: &str =
    r#"verb!~"WATCH|WATCHLIST|CONNECT|PROXY", subresource!~"log|exec|portforward|attach|proxy""#;

/// The SLI histogram by version, as clusterloader2's `GetApiserverSLI` picks it.
const SLI_ERAS: [(u32, Option<u32>, &str); 3] = [
    (26, None, "apiserver_request_sli_duration_seconds"),
    (23, Some(25), "apiserver_request_slo_duration_seconds"),
    (16, Some(22), "apiserver_request_duration_seconds"),
];

fn slowest(q: &str) -> String {
    format!(
        r#"histogram_quantile({q}, sum by (le, {CALL}) (rate(apiserver_request_duration_seconds_bucket{{${{sel}}, {NOT_STREAMING}}}[${{range}}]))) > 0"#
    )
}

/// One query per SLI era, built by `f(metric)`.
fn by_sli_era(f: impl Fn(&str) -> String) -> Vec<Alternative> {
    SLI_ERAS
        .iter()
        .map(|(since, until, metric)| match until {
            Some(until) => alt(*since, *until, &f(metric)),
            None => from(*since, &f(metric)),
        })
        .collect()
}

/// The quantile per call with the 1 s (scope=resource) and 30 s (namespace, cluster) split.
fn slo_quantile(metric: &str, q: &str, single_div: &str, multi_div: &str) -> String {
    let part = |scope: &str, div: &str| {
        format!(
            r#"histogram_quantile({q}, sum by (le, {SLO_KEY}) (rate({metric}_bucket{{${{sel}}, {SLO_FILTER}, {scope}}}[${{range}}]))){div}"#
        )
    };
    format!(
        "({}) or ({})",
        part(r#"scope="resource""#, single_div),
        part(r#"scope!="resource""#, multi_div)
    )
}

fn slo_count(metric: &str) -> String {
    format!(
        r#"sum by ({SLO_KEY}) (increase({metric}_count{{${{sel}}, {SLO_FILTER}}}[${{range}}])) > 0"#
    )
}

fn slo_threshold(metric: &str) -> String {
    let count = |scope: &str| {
        format!(
            r#"(sum by ({SLO_KEY}) (increase({metric}_count{{${{sel}}, {SLO_FILTER}, {scope}}}[${{range}}])) > 0)"#
        )
    };
    format!(
        "({} * 0 + 1) or ({} * 0 + 30)",
        count(r#"scope="resource""#),
        count(r#"scope!="resource""#)
    )
}

fn slo_slow(metric: &str) -> String {
    let part = |scope: &str, le: &str| {
        format!(
            r#"(sum by ({SLO_KEY}) (increase({metric}_count{{${{sel}}, {SLO_FILTER}, {scope}}}[${{range}}])) - sum by ({SLO_KEY}) (increase({metric}_bucket{{${{sel}}, {SLO_FILTER}, {scope}, le=~"{le}"}}[${{range}}])))"#
        )
    };
    format!(
        "{} or {}",
        part(r#"scope="resource""#, r"1(\\.0)?"),
        part(r#"scope!="resource""#, r"30(\\.0)?")
    )
}

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("slowest-calls", Row::Latency, "Slowest calls (LIST included)", Unit::Seconds, Visualisation::Table)
            .question("Which calls (verb, resource, subresource, scope) are slowest, and how many are there?")
            .description(
                "p50/p90/p99 of apiserver_request_duration_seconds over the whole time range per call, and the call count. \
                 Only WATCH and CONNECT are left out: the reference troubleshooter used a recording rule that drops LIST, \
                 so the slow LIST its guide talks about could never appear there (and that rule left kubernetes-mixin in 2022). \
                 This histogram includes webhook and APF queue time: what the client waited.",
            )
            .warn(1.0)
            .crit(10.0)
            .query("p50", "p50", vec![always(&slowest("0.5"))])
            .query("p90", "p90", vec![always(&slowest("0.9"))])
            .query("p99", "p99", vec![always(&slowest("0.99"))])
            .query_unit("count", "calls", Unit::Count, vec![always(&format!(
                r#"sum by ({CALL}) (increase(apiserver_request_duration_seconds_count{{${{sel}}, {NOT_STREAMING}}}[${{range}}])) > 0"#
            ))])
            .table(&["verb", "group", "resource", "subresource", "scope"], "p99", 20, None)
            .drill(&["instance"], &["slo-view", "apf-execution-time", "etcd-latency-by-operation"], "A slow LIST at cluster scope is usually an unpaginated client: the audit log names it (userAgent, requestURI without limit=).")
            .build(),
        panel("slo-view", Row::Latency, "API call latency SLO (clusterloader2)", Unit::Seconds, Visualisation::Table)
            .question("Which calls break the upstream latency SLO: 1 s for single objects, 30 s for LISTs?")
            .description(
                "The sig-scalability SLO as clusterloader2 checks it: p99 per (verb, resource, subresource, scope) of the \
                 SLI histogram (apiserver_request_sli_duration_seconds from 1.26, _slo_ 1.23-1.25, the request histogram \
                 before), threshold 1 s when scope=resource and 30 s otherwise; the top 5 by p99/threshold and every \
                 violator. The slow count needs the le=\"1\" and le=\"30\" buckets: scrapers that drop them (kube-prometheus \
                 drops le=\"30\") make it empty.",
            )
            .limit(1.0, "single-object SLO (1 s)")
            .limit(30.0, "LIST SLO (30 s)")
            .query("p50", "p50", by_sli_era(|m| slo_quantile(m, "0.5", "", "")))
            .query("p90", "p90", by_sli_era(|m| slo_quantile(m, "0.9", "", "")))
            .query("p99", "p99", by_sli_era(|m| slo_quantile(m, "0.99", "", "")))
            .query("threshold", "SLO", by_sli_era(slo_threshold))
            .query_unit("ratio", "p99 / SLO", Unit::Ratio, by_sli_era(|m| slo_quantile(m, "0.99", " / 1", " / 30")))
            .query_unit("count", "calls", Unit::Count, by_sli_era(slo_count))
            .query_unit("slow", "calls over SLO", Unit::Count, by_sli_era(slo_slow))
            .table(&["verb", "resource", "subresource", "scope"], "ratio", 5, Some(("ratio", 1.0)))
            .drill(&["instance"], &["slowest-calls"], "A ratio above 1 breaks the SLO. SLI time excludes webhooks and APF waits, so a violator here is slow inside the server or etcd.")
            .build(),
        panel("latency-by-verb", Row::Latency, "p99 latency by verb and API server", Unit::Seconds, Visualisation::Timeseries)
            .question("Is one API server slower than the others, and for which verb?")
            .limit(1.0, "single-object SLO (1 s)")
            .query("p99", "{{instance}} {{verb}}", vec![always(&format!(
                r#"histogram_quantile(0.99, sum by (le, instance, verb) (rate(apiserver_request_duration_seconds_bucket{{${{sel}}, {NOT_STREAMING}}}[${{w}}]))) > 0"#
            ))])
            .drill(&["resource", "scope"], &["replica-imbalance", "slowest-calls"], "")
            .build(),
        panel("heatmap-reads", Row::Latency, "Request duration heatmap: reads (GET, LIST)", Unit::Seconds, Visualisation::Heatmap)
            .question("Where do reads fall: the watch-cache band (milliseconds) or the etcd band?")
            .description(
                "No label says whether one request was answered from the watch cache, so the bands are separated by what \
                 can be measured: reads here (served from the watch cache unless the client asks for a consistent read \
                 on a release without consistent reads from cache, 1.31+), writes (always etcd) beside it, the etcd \
                 round trips in the etcd row, and LISTs served from cache vs etcd per resource. Buckets below 50 ms exist \
                 only from 1.25.",
            )
            .query("reads", "{{le}}", vec![always(
                r#"sum by (le) (increase(apiserver_request_duration_seconds_bucket{${sel}, verb=~"GET|LIST"}[${w}]))"#,
            )])
            .drill(&["resource", "scope"], &["lists-cache-vs-etcd", "heatmap-etcd"], "")
            .build(),
        panel("heatmap-writes", Row::Latency, "Request duration heatmap: writes (uncached, through etcd)", Unit::Seconds, Visualisation::Heatmap)
            .question("How long do writes take (every write goes to etcd)?")
            .query("writes", "{{le}}", vec![always(
                r#"sum by (le) (increase(apiserver_request_duration_seconds_bucket{${sel}, verb=~"POST|PUT|PATCH|APPLY|DELETE|DELETECOLLECTION"}[${w}]))"#,
            )])
            .drill(&["resource"], &["heatmap-etcd", "admission-webhook-latency"], "Slow writes with a fast etcd point at admission webhooks.")
            .build(),
        panel("lists-cache-vs-etcd", Row::Latency, "LISTs served from the watch cache vs etcd", Unit::PerSecond, Visualisation::Timeseries)
            .question("Which resources' LISTs bypass the watch cache and hit etcd?")
            .description("apiserver_cache_list_total (cache) against apiserver_storage_list_total (etcd), 1.23+; labelled resource_prefix (cache) until 1.33.")
            .query("cache", "{{resource}} from cache", vec![
                from(34, r#"topk(10, sum by (resource) (rate(apiserver_cache_list_total{${sel}}[${w}])))"#)
                    .needs_label("apiserver_cache_list_total", "resource"),
                alt(23, 33, r#"topk(10, label_replace(sum by (resource_prefix) (rate(apiserver_cache_list_total{${sel}}[${w}])), "resource", "$1", "resource_prefix", ".*/([^/]+)"))"#)
                    .needs_label("apiserver_cache_list_total", "resource_prefix"),
            ])
            .query("etcd", "{{resource}} from etcd", vec![
                from(23, r#"topk(10, sum by (resource) (rate(apiserver_storage_list_total{${sel}}[${w}])))"#),
            ])
            .drill(&["instance"], &["list-objects-returned"], "LISTs with resourceVersion=\"\" (consistent) skip the cache before 1.31; repeated ones from one client are the usual etcd load.")
            .build(),
    ]
}
