//! The query threads: a fast lane for cheap queries and a bounded heavy lane with a queue, so a
//! flood of heavy queries never makes `up` wait.
//!
//! Every query is parsed, evaluated, rendered and dropped on one of these threads, which have
//! [`apilens_promql::QUERY_STACK_SIZE`] of stack: deep queries cannot overflow them, and no
//! query runs on the async runtime's workers. A query first goes to the fast lane, which parses
//! it and estimates its cost ([`apilens_promql::PreparedQuery::steps_per_series`]). A query
//! that evaluates few steps runs there under small limits ([`FAST_MAX_SAMPLES`],
//! [`FAST_TIMEOUT`]); one that passes them is moved to the heavy lane, and its text is
//! remembered so that it goes to the heavy lane at once the next time (dashboards repeat their
//! queries). Every other query goes to the heavy lane: `max_concurrency` threads, like
//! Prometheus's `--query.max-concurrency`, fed by a queue of bounded length; a query that finds
//! the queue full, or waits in it past its limit, gets 503.

use apilens_promapi::{Answer, PromApiError, QueryEngine, QueryRequest};
use apilens_promql::{Error, ExecControl, QUERY_STACK_SIZE, api_error};
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Queries that evaluate at most this many steps per series start in the fast lane: instant
/// queries and range queries of up to a thousand steps without large subqueries.
pub const FAST_MAX_STEPS: u64 = 1_000;
/// The most samples a query may hold in the fast lane before it moves to the heavy lane.
pub const FAST_MAX_SAMPLES: usize = 1_000_000;
/// The longest a query may run in the fast lane before it moves to the heavy lane.
pub const FAST_TIMEOUT: Duration = Duration::from_millis(500);
/// Threads of the fast lane.
const FAST_THREADS: usize = 2;
/// Queries that may wait for the fast lane.
const FAST_QUEUE: usize = 1024;
/// Query texts remembered as heavy; the set is cleared when it is full.
const REMEMBERED_HEAVY: usize = 4096;

/// Sizes and limits of the query threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOpts {
    /// Heavy queries evaluated at once (`--query-max-concurrency`).
    pub max_concurrency: usize,
    /// Heavy queries that may wait for a thread (`--query-max-queue`); one more gets 503.
    pub max_queue: usize,
    /// The longest a query may wait in the heavy queue (`--query-queue-timeout`), within its
    /// own timeout.
    pub queue_timeout: Duration,
}

impl Default for PoolOpts {
    /// Four heavy threads (twice the cores of a small machine: more gives no throughput and
    /// multiplies memory), 64 waiting, 30 s of waiting at most.
    fn default() -> Self {
        Self {
            max_concurrency: 4,
            max_queue: 64,
            queue_timeout: Duration::from_secs(30),
        }
    }
}

/// A unit of work run on a query thread; it may pass itself on to the heavy lane.
type Job = Box<dyn FnOnce(&Shared) + Send>;

/// Which lane a job goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Fast,
    Heavy,
}

struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    capacity: usize,
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            capacity,
        }
    }

    fn push(&self, job: Job) -> Result<(), Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if jobs.len() >= self.capacity {
            return Err(job);
        }
        jobs.push_back(job);
        drop(jobs);
        self.ready.notify_one();
        Ok(())
    }

    fn pop(&self, stop: &AtomicBool) -> Option<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(job) = jobs.pop_front() {
                return Some(job);
            }
            jobs = self
                .ready
                .wait(jobs)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// What the threads share: the two queues and the texts known to be heavy.
struct Shared {
    fast: Queue,
    heavy: Queue,
    opts: PoolOpts,
    heavy_texts: Mutex<HashSet<u64>>,
    stop: AtomicBool,
}

impl Shared {
    fn submit(&self, lane: Lane, job: Job) -> Result<(), Error> {
        let queue = match lane {
            Lane::Fast => &self.fast,
            Lane::Heavy => &self.heavy,
        };
        queue.push(job).map_err(|_| {
            Error::Busy(format!(
                "too many queries: {} running and {} waiting; try again later",
                self.opts.max_concurrency, queue.capacity
            ))
        })
    }

    fn known_heavy(&self, text: &str) -> bool {
        let set = self
            .heavy_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        set.contains(&text_hash(text))
    }

    fn remember_heavy(&self, text: &str) {
        let mut set = self
            .heavy_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if set.len() >= REMEMBERED_HEAVY {
            set.clear();
        }
        set.insert(text_hash(text));
    }
}

/// The query threads of one server; the threads end when it is dropped.
pub struct QueryPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryPool")
            .field("opts", &self.shared.opts)
            .finish_non_exhaustive()
    }
}

/// One query asked of the pool.
pub(crate) struct QueryJob {
    pub(crate) engine: Arc<dyn QueryEngine>,
    pub(crate) request: QueryRequest,
    /// The request's timeout, already capped by the engine's.
    pub(crate) timeout: Duration,
}

impl QueryPool {
    /// Starts the threads.
    ///
    /// # Panics
    ///
    /// When a thread cannot be started.
    pub fn start(opts: PoolOpts) -> Self {
        let opts = PoolOpts {
            max_concurrency: opts.max_concurrency.max(1),
            ..opts
        };
        let shared = Arc::new(Shared {
            fast: Queue::new(FAST_QUEUE),
            heavy: Queue::new(opts.max_queue),
            opts,
            heavy_texts: Mutex::new(HashSet::new()),
            stop: AtomicBool::new(false),
        });
        let lanes = std::iter::repeat_n(Lane::Fast, FAST_THREADS)
            .chain(std::iter::repeat_n(Lane::Heavy, opts.max_concurrency));
        for (i, lane) in lanes.enumerate() {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("apilens-query-{i}"))
                .stack_size(QUERY_STACK_SIZE)
                .spawn(move || {
                    let queue = match lane {
                        Lane::Fast => &shared.fast,
                        Lane::Heavy => &shared.heavy,
                    };
                    while let Some(job) = queue.pop(&shared.stop) {
                        job(&shared);
                    }
                })
                .expect("cannot start a query thread");
        }
        Self { shared }
    }

    /// The options in force.
    pub fn opts(&self) -> PoolOpts {
        self.shared.opts
    }

    /// Evaluates a query on the query threads and renders its answer there: the API body of
    /// the result or of the error, with its HTTP status.
    pub(crate) async fn run_query(&self, job: QueryJob) -> (u16, String) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cancel = CancelOnDrop::default();
        let flag = Arc::clone(&cancel.0);
        let received = Instant::now();
        let submitted = self.shared.submit(
            Lane::Fast,
            Box::new(move |shared| fast_lane(shared, job, flag, received, tx)),
        );
        // A job is dropped unanswered only when the heavy queue was full or the server stops.
        let busy = || {
            api_error(&Error::Busy(format!(
                "too many queries: {} running and {} waiting; try again later",
                self.shared.opts.max_concurrency, self.shared.opts.max_queue
            )))
        };
        let answer = match submitted {
            Ok(()) => rx.await.unwrap_or_else(|_| busy()),
            Err(e) => api_error(&e),
        };
        drop(cancel);
        answer
    }

    /// Runs `work` on the heavy lane and waits for its answer without blocking the runtime.
    /// The work sees a cancel flag that is set when the caller stops waiting (its client went
    /// away), and is skipped when it waited past the queue's limit.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when the queue is full or the wait too long.
    pub(crate) async fn run_heavy<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AtomicBool) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cancel = CancelOnDrop::default();
        let flag = Arc::clone(&cancel.0);
        let enqueued = Instant::now();
        let queue_timeout = self.shared.opts.queue_timeout;
        self.shared.submit(
            Lane::Heavy,
            Box::new(move |_| {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                let res = if enqueued.elapsed() > queue_timeout {
                    Err(Error::Busy(queue_timeout_message(queue_timeout)))
                } else {
                    guarded(|| work(&flag))
                };
                let _ = tx.send(res);
            }),
        )?;
        let res = rx
            .await
            .unwrap_or_else(|_| Err(Error::Execution("query thread stopped".into())));
        drop(cancel);
        res
    }
}

impl Drop for QueryPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.fast.ready.notify_all();
        self.shared.heavy.ready.notify_all();
    }
}

type Reply = tokio::sync::oneshot::Sender<(u16, String)>;

/// Parses the query, runs it here when it looks cheap and stays within the fast lane's limits,
/// and passes it to the heavy lane otherwise.
fn fast_lane(
    shared: &Shared,
    job: QueryJob,
    cancel: Arc<AtomicBool>,
    received: Instant,
    tx: Reply,
) {
    if cancel.load(Ordering::Relaxed) {
        return;
    }
    let plan = match job.engine.plan(job.request) {
        Ok(p) => p,
        Err(e) => {
            let _ = tx.send(e.api_error());
            return;
        }
    };
    let text = plan.request().text();
    // A query whose cost cannot be told before it runs (a remote engine's) goes to the heavy
    // lane, whose threads bound how many run at once.
    let cheap = plan.steps_per_series().is_some_and(|n| n <= FAST_MAX_STEPS);
    if cheap && !shared.known_heavy(text) {
        let left = job.timeout.saturating_sub(received.elapsed());
        let ctl = ExecControl {
            timeout: Some(left.min(FAST_TIMEOUT)),
            max_samples: Some(FAST_MAX_SAMPLES),
            cancel: Some(Arc::clone(&cancel)),
        };
        let engine_cap = job.engine.limits().max_samples.unwrap_or(usize::MAX);
        match guarded_answer(|| job.engine.execute(&plan, &ctl)) {
            Err(PromApiError::Query(Error::TooManySamples(_))) if engine_cap > FAST_MAX_SAMPLES => {
            }
            Err(PromApiError::Query(Error::Timeout(_))) if left > FAST_TIMEOUT => {}
            res => {
                let _ = tx.send(render(res));
                return;
            }
        }
        shared.remember_heavy(text);
    }
    let enqueued = Instant::now();
    let queue_timeout = shared.opts.queue_timeout;
    let engine = job.engine;
    let timeout = job.timeout;
    let heavy: Job = Box::new(move |_| {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let left = timeout.saturating_sub(received.elapsed());
        let res = if enqueued.elapsed() > queue_timeout {
            Err(Error::Busy(queue_timeout_message(queue_timeout)).into())
        } else if left.is_zero() {
            Err(Error::Timeout("query queue").into())
        } else {
            let ctl = ExecControl {
                timeout: Some(left),
                max_samples: None,
                cancel: Some(cancel),
            };
            guarded_answer(|| engine.execute(&plan, &ctl))
        };
        let _ = tx.send(render(res));
    });
    // When the queue is full the job and its reply are dropped, and the waiting side answers
    // 503.
    let _ = shared.submit(Lane::Heavy, heavy);
}

/// [`guarded`] for an engine's answer.
fn guarded_answer(
    f: impl FnOnce() -> Result<Answer, PromApiError>,
) -> Result<Answer, PromApiError> {
    guarded(|| Ok(f())).unwrap_or_else(|e| Err(e.into()))
}

/// Runs `f`, turning a panic into an error (Prometheus's `evaluator.recover`), so a bug in one
/// query never takes a query thread down.
fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Execution(format!("unexpected error: {what}")))
    })
}

fn render(res: Result<Answer, PromApiError>) -> (u16, String) {
    match res {
        Ok(answer) => (answer.status, answer.body),
        Err(e) => e.api_error(),
    }
}

/// The 503 message of a query that waited too long.
pub(crate) fn queue_timeout_message(limit: Duration) -> String {
    format!(
        "query waited in the queue longer than {} s (every query thread was busy); try again later",
        limit.as_secs_f64()
    )
}

fn text_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// A cancel flag that is set when the waiting side is dropped (the HTTP request went away).
#[derive(Debug, Default)]
pub(crate) struct CancelOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
