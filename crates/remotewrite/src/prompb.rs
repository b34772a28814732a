//! The remote-write 1.0 protobuf messages (`prometheus/prompb/remote.proto` and `types.proto`),
//! written out by hand for `prost`, and the encoding of scrape batches into requests.

use apilens_model::Batch;
use apilens_model::Labels;

/// `prometheus.WriteRequest`: the body of one remote-write request before snappy.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: one series, labels sorted by name, samples in time order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The labels, `__name__` included.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<PbLabel>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<PbSample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct PbLabel {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a value (staleness markers keep their NaN bit pattern) and a
/// timestamp in milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PbSample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One queue record: a snappy-compressed [`WriteRequest`] and its sample count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) samples: u32,
    pub(crate) payload: Vec<u8>,
}

/// Splits a batch into snappy-compressed write requests of at most `max_samples` samples
/// each; the samples of one series stay together in time order.
pub(crate) fn encode_batch(batch: &Batch, max_samples: usize) -> Result<Vec<Chunk>, String> {
    let max_samples = max_samples.max(1);
    let mut index = std::collections::HashMap::<&Labels, usize>::new();
    let mut series: Vec<(&Labels, Vec<PbSample>)> = Vec::new();
    for (labels, sample) in &batch.samples {
        let i = *index.entry(labels).or_insert_with(|| {
            series.push((labels, Vec::new()));
            series.len() - 1
        });
        series[i].1.push(PbSample {
            value: sample.v,
            timestamp: sample.t,
        });
    }
    let mut chunks = Vec::new();
    let mut current = WriteRequest::default();
    let mut count = 0usize;
    let mut flush = |req: &mut WriteRequest, count: &mut usize| -> Result<(), String> {
        if *count > 0 {
            chunks.push(compress(req, *count)?);
            req.timeseries.clear();
            *count = 0;
        }
        Ok(())
    };
    for (labels, mut samples) in series {
        samples.sort_by_key(|s| s.timestamp);
        let pb_labels: Vec<PbLabel> = labels
            .iter()
            .map(|l| PbLabel {
                name: l.name.clone(),
                value: l.value.clone(),
            })
            .collect();
        let mut rest = samples.as_slice();
        while !rest.is_empty() {
            if count == max_samples {
                flush(&mut current, &mut count)?;
            }
            let take = rest.len().min(max_samples - count);
            current.timeseries.push(TimeSeries {
                labels: pb_labels.clone(),
                samples: rest[..take].to_vec(),
            });
            count += take;
            rest = &rest[take..];
        }
    }
    flush(&mut current, &mut count)?;
    Ok(chunks)
}

fn compress(req: &WriteRequest, samples: usize) -> Result<Chunk, String> {
    let raw = prost::Message::encode_to_vec(req);
    let payload = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| format!("snappy: {e}"))?;
    Ok(Chunk {
        samples: u32::try_from(samples).unwrap_or(u32::MAX),
        payload,
    })
}

/// Decodes a snappy-compressed [`WriteRequest`], as a receiver does.
///
/// # Errors
///
/// A message naming the failing layer (snappy or protobuf).
pub fn decode_write_request(body: &[u8]) -> Result<WriteRequest, String> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("snappy: {e}"))?;
    <WriteRequest as prost::Message>::decode(raw.as_slice()).map_err(|e| format!("protobuf: {e}"))
}

/// Joins several compressed requests into one (the concatenation of protobuf messages is their
/// merge: the series lists are appended).
pub(crate) fn merge_chunks(payloads: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    if let [one] = payloads {
        return Ok(one.clone());
    }
    let mut raw = Vec::new();
    let mut dec = snap::raw::Decoder::new();
    for p in payloads {
        raw.extend(dec.decompress_vec(p).map_err(|e| format!("snappy: {e}"))?);
    }
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| format!("snappy: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_model::{STALE_NAN, Sample};

    fn batch(n: usize) -> Batch {
        Batch {
            samples: (0..n)
                .map(|i| {
                    (
                        Labels::from_pairs([("__name__", "m"), ("i", &*format!("{}", i % 7))]),
                        Sample {
                            t: 1000 * (n - i) as i64,
                            v: if i == 3 { STALE_NAN } else { i as f64 },
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn batches_split_and_merge_back() {
        let b = batch(25);
        let chunks = encode_batch(&b, 10).unwrap();
        assert_eq!(
            chunks.iter().map(|c| c.samples).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        let merged =
            merge_chunks(&chunks.iter().map(|c| c.payload.clone()).collect::<Vec<_>>()).unwrap();
        let req = decode_write_request(&merged).unwrap();
        let total: usize = req.timeseries.iter().map(|t| t.samples.len()).sum();
        assert_eq!(total, 25);
        for ts in &req.timeseries {
            assert_eq!(ts.labels[0].name, "__name__");
            assert!(
                ts.samples
                    .windows(2)
                    .all(|w| w[0].timestamp < w[1].timestamp)
            );
        }
        let stale = req
            .timeseries
            .iter()
            .flat_map(|t| &t.samples)
            .find(|s| s.timestamp == 22_000)
            .unwrap();
        assert_eq!(stale.value.to_bits(), STALE_NAN.to_bits());
        assert!(decode_write_request(b"not snappy").is_err());
    }
}
