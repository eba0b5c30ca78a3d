//! The Prometheus endpoint: `GET /metrics` on `[metrics] listen`, served
//! by `ralo serve` from the telemetry counters ([`crate::telemetry`]) in the
//! Prometheus text format (version 0.0.4), encoded by `prometheus-client`.
//!
//! | metric | type | labels |
//! |--------|------|--------|
//! | `ralo_queries_total` | counter | `outcome`: blocked, allowed, cached, stale, forwarded, local, refused, failed |
//! | `ralo_queries_by_type_total` | counter | `type`: A, AAAA, HTTPS, CNAME, MX, TXT, PTR, SRV, SVCB, other |
//! | `ralo_queries_by_protocol_total` | counter | `protocol`: udp, tcp |
//! | `ralo_upstream_tries_total` | counter | `upstream` (`ip:port`) |
//! | `ralo_upstream_failures_total` | counter | `upstream` |
//! | `ralo_upstream_latency_seconds` | histogram | `upstream`; answered tries only |
//! | `ralo_query_log_dropped_total` | counter | events the ring could not take |
//! | `ralo_rate_limited_total` | counter | `action`: refuse, drop; messages of clients over their rate limit |
//! | `ralo_upstream_overload_total` | counter | questions turned away at `[upstream] max_inflight` |
//! | `ralo_image_generation` | gauge | the blocklist image serving |
//! | `ralo_blocking_enabled` | gauge | 1, or 0 while `ralo disable` is in force |
//! | `ralo_start_time_seconds` | gauge | when the server started (Unix time) |
//!
//! The HTTP side is hyper's HTTP/1.1 server; every connection is bounded in
//! time, and nothing here touches the query path: a scrape reads the same
//! atomics `ralo stats` reads.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::telemetry::{LATENCY_BOUNDS_MS, QType, Telemetry};
use crate::vocab::Protocol;

/// The longest a client may keep one connection.
const CONNECTION_LIMIT: Duration = Duration::from_secs(60);
/// The longest a client may take to send a request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 16;

/// The registry holding ralo's one collector, reading `telemetry`.
pub fn registry(telemetry: Arc<Telemetry>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(TelemetryCollector { telemetry }));
    registry
}

/// The metrics now, in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail; a collector error would be a bug
    // in the encoding below, and yields a partial page rather than a panic.
    if let Err(error) = prometheus_text::encode(&mut text, registry) {
        warn!(%error, "encoding the metrics failed");
    }
    text
}

/// Reads the telemetry counters on each scrape.
#[derive(Debug)]
struct TelemetryCollector {
    telemetry: Arc<Telemetry>,
}

impl Collector for TelemetryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let view = self.telemetry.view();
        let header = view.header();
        let counters = view.counters();

        let mut family = |name: &str, help: &str, label: &str, values: &[(&str, u64)]| {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for &(value, count) in values {
                let labels = [(label, value)];
                ConstCounter::new(count).encode(metric.encode_family(&labels)?)?;
            }
            Ok::<(), std::fmt::Error>(())
        };
        let outcomes: Vec<(&str, u64)> = counters
            .by_outcome()
            .map(|(o, n)| (o.as_str(), n))
            .collect();
        family(
            "ralo_queries",
            "Queries answered, by outcome.",
            "outcome",
            &outcomes,
        )?;
        let types: Vec<(&str, u64)> = QType::ALL
            .iter()
            .map(|t| (t.as_str(), counters.qtype(*t)))
            .collect();
        family(
            "ralo_queries_by_type",
            "Queries answered, by query type.",
            "type",
            &types,
        )?;
        let protocols: Vec<(&str, u64)> = Protocol::ALL
            .iter()
            .map(|p| (p.as_str(), counters.protocols[p.index()]))
            .collect();
        family(
            "ralo_queries_by_protocol",
            "Queries answered, by protocol.",
            "protocol",
            &protocols,
        )?;
        let names: Vec<String> = counters
            .upstreams
            .iter()
            .map(|u| u.addr.to_string())
            .collect();
        let tries: Vec<(&str, u64)> = names
            .iter()
            .zip(&counters.upstreams)
            .map(|(n, u)| (n.as_str(), u.tries))
            .collect();
        family(
            "ralo_upstream_tries",
            "Queries sent to each upstream resolver.",
            "upstream",
            &tries,
        )?;
        let failures: Vec<(&str, u64)> = names
            .iter()
            .zip(&counters.upstreams)
            .map(|(n, u)| (n.as_str(), u.failures))
            .collect();
        family(
            "ralo_upstream_failures",
            "Upstream tries that failed: timeout, network error, SERVFAIL or REFUSED.",
            "upstream",
            &failures,
        )?;
        let group_queries: Vec<(&str, u64)> = counters
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.queries))
            .collect();
        family(
            "ralo_group_queries",
            "Queries from each group's clients (a client in several groups counts in each).",
            "group",
            &group_queries,
        )?;
        let group_blocked: Vec<(&str, u64)> = counters
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.blocked))
            .collect();
        family(
            "ralo_group_blocked",
            "Blocked queries from each group's clients.",
            "group",
            &group_blocked,
        )?;
        let firsts: Vec<(&str, u64)> = names
            .iter()
            .zip(&counters.upstreams)
            .map(|(n, u)| (n.as_str(), u.first))
            .collect();
        family(
            "ralo_upstream_first_choice",
            "Questions that asked this upstream first (the lowest smoothed round-trip time, others now and then).",
            "upstream",
            &firsts,
        )?;
        family(
            "ralo_rate_limited",
            "Messages from clients over their rate limit, by what they got (not counted as queries).",
            "action",
            &[
                ("refuse", counters.rate_limited_refused),
                ("drop", counters.rate_limited_dropped),
            ],
        )?;

        let mut metric = encoder.encode_descriptor(
            "ralo_upstream_latency_seconds",
            "Time for an upstream resolver to answer (answered tries only).",
            None,
            MetricType::Histogram,
        )?;
        for (name, upstream) in names.iter().zip(&counters.upstreams) {
            let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_MS
                .iter()
                .map(|&ms| ms as f64 / 1000.0)
                .chain([f64::INFINITY])
                .zip(upstream.buckets)
                .collect();
            let labels = [("upstream", name.as_str())];
            metric
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    upstream.latency_sum_us as f64 / 1e6,
                    upstream.answered(),
                    &buckets,
                    None,
                )?;
        }

        let mut metric = encoder.encode_descriptor(
            "ralo_upstream_srtt_seconds",
            "Smoothed round-trip time of each upstream, as the forwarder chooses by (0 while unknown).",
            None,
            MetricType::Gauge,
        )?;
        for (name, upstream) in names.iter().zip(&counters.upstreams) {
            let labels = [("upstream", name.as_str())];
            ConstGauge::new(upstream.srtt_us as f64 / 1e6)
                .encode(metric.encode_family(&labels)?)?;
        }

        let metric = encoder.encode_descriptor(
            "ralo_query_log_dropped",
            "Queries left out of the recent-query ring because their slot was still being written.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(counters.ring_dropped).encode(metric)?;
        let metric = encoder.encode_descriptor(
            "ralo_upstream_overload",
            "Questions answered stale or SERVFAIL because [upstream] max_inflight upstream queries were in flight.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(counters.upstream_overload).encode(metric)?;
        let metric = encoder.encode_descriptor(
            "ralo_cache_refetched",
            "Cache entries fetched again in the background before anyone waited for them ([cache] prefetch, optimistic).",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(counters.refetched).encode(metric)?;
        let now_ms = crate::vocab::unix_ms();
        let gauges = [
            (
                "ralo_image_generation",
                "Generation of the blocklist image serving.",
                i64::try_from(header.generation).unwrap_or(i64::MAX),
            ),
            (
                "ralo_blocking_enabled",
                "1 while blocking is on, 0 while it is switched off (ralo disable).",
                i64::from(header.blocking_enabled(now_ms)),
            ),
        ];
        for (name, help, value) in gauges {
            let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(metric)?;
        }
        let metric = encoder.encode_descriptor(
            "ralo_start_time_seconds",
            "When the server started, in seconds since the Unix epoch.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(header.started_unix_ms as f64 / 1000.0).encode(metric)?;
        Ok(())
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, telemetry: Arc<Telemetry>, shutdown: CancellationToken) {
    if let Ok(addr) = listener.local_addr() {
        info!(protocol = "http", %addr, "listening");
    }
    let registry = Arc::new(registry(telemetry));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept(), if connections.len() < MAX_CONNECTIONS => match accepted {
                Ok((stream, _)) => {
                    let registry = registry.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let response = respond(&request, &registry);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let connection = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEAD_TIMEOUT)
                            .serve_connection(TokioIo::new(stream), service);
                        let _ = tokio::time::timeout(CONNECTION_LIMIT, connection).await;
                    });
                }
                Err(error) => {
                    warn!(%error, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

fn respond(request: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            let mut response = reply(StatusCode::OK, render(registry));
            response.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
            );
            response
        }
        (_, "/metrics") => {
            let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, "use GET /metrics\n".into());
            response
                .headers_mut()
                .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
            response
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "ralo: the metrics are at /metrics\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::telemetry::Query;
    use crate::vocab::Outcome;

    #[test]
    fn text_names_every_counter_with_its_value() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = "127.0.0.1:5300".parse().unwrap();
        let telemetry =
            Arc::new(Telemetry::create(&dir.path().join("t"), 64, &[upstream]).unwrap());
        telemetry.set_groups(["default", "kids", "tv"]);
        for outcome in [Outcome::Blocked, Outcome::Blocked, Outcome::Forwarded] {
            telemetry.record(&Query {
                client: "127.0.0.1".parse().unwrap(),
                name: "ads.example.com",
                qtype: RecordType::A,
                outcome,
                protocol: Protocol::Udp,
                list: None,
                asked_ms: crate::vocab::unix_ms(),
                latency: Duration::from_micros(100),
                groups: 0b11,
            });
        }
        telemetry.upstream_answered(0, Duration::from_millis(3));
        telemetry.upstream_rtt(0, 3_000, true);
        telemetry.set_generation(7);
        telemetry.rate_limited(crate::vocab::Admission::Refuse);
        telemetry.rate_limited(crate::vocab::Admission::Drop);
        telemetry.rate_limited(crate::vocab::Admission::Drop);
        telemetry.upstream_overloaded();
        telemetry.refetched();
        let text = render(&registry(telemetry));
        for line in [
            "# TYPE ralo_queries_total counter",
            "ralo_queries_total{outcome=\"blocked\"} 2",
            "ralo_queries_total{outcome=\"forwarded\"} 1",
            "ralo_queries_by_type_total{type=\"A\"} 3",
            "ralo_queries_by_protocol_total{protocol=\"udp\"} 3",
            "ralo_upstream_tries_total{upstream=\"127.0.0.1:5300\"} 1",
            "# TYPE ralo_upstream_latency_seconds histogram",
            "ralo_upstream_latency_seconds_bucket{upstream=\"127.0.0.1:5300\",le=\"0.002\"} 0",
            "ralo_upstream_latency_seconds_bucket{upstream=\"127.0.0.1:5300\",le=\"0.005\"} 1",
            "ralo_upstream_latency_seconds_bucket{upstream=\"127.0.0.1:5300\",le=\"+Inf\"} 1",
            "ralo_upstream_latency_seconds_count{upstream=\"127.0.0.1:5300\"} 1",
            "ralo_image_generation 7",
            "ralo_rate_limited_total{action=\"refuse\"} 1",
            "ralo_rate_limited_total{action=\"drop\"} 2",
            "ralo_upstream_overload_total 1",
            "ralo_cache_refetched_total 1",
            "ralo_upstream_srtt_seconds{upstream=\"127.0.0.1:5300\"} 0.003",
            "ralo_upstream_first_choice_total{upstream=\"127.0.0.1:5300\"} 1",
            "ralo_blocking_enabled 1",
            "ralo_group_queries_total{group=\"default\"} 3",
            "ralo_group_queries_total{group=\"kids\"} 3",
            "ralo_group_queries_total{group=\"tv\"} 0",
            "ralo_group_blocked_total{group=\"kids\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
