//! `opsync run` in three stages on three threads: reading the source, mapping, loading. Each
//! stage hands the next one chunks of rows through a bounded channel, so memory stays flat and
//! the rows keep their order; the reading thread gets the mapped rows' buffers back to refill.
//! On a machine with two cores, the operating system runs whichever stages have work.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Driven, Observer, PipelineError, RowEvent, drive, interrupt};
use crate::mapping::{Binding, Mapping};
use crate::model::RawRecord;
use crate::source::{Source, SourceError};

/// Rows handed from one stage to the next at a time.
const CHUNK: usize = 1024;
/// Chunks in flight between two stages: bounds the memory between them.
const CHUNKS_IN_FLIGHT: usize = 8;

/// The sending end of a stage's chunks, with the emptied chunks coming back to be refilled (a
/// chunk is large enough that a fresh one would cost the kernel fresh pages each time).
struct Chunks<T> {
    to: SyncSender<Vec<T>>,
    back: Receiver<Vec<T>>,
    filling: Vec<T>,
}

impl<T> Chunks<T> {
    fn push(&mut self, item: T) -> Result<(), ()> {
        self.filling.push(item);
        if self.filling.len() >= CHUNK {
            return self.send();
        }
        Ok(())
    }

    /// Send what is filled (nothing when empty); `Err` when the next stage has stopped.
    fn send(&mut self) -> Result<(), ()> {
        if self.filling.is_empty() {
            return Ok(());
        }
        let next = self.back.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.filling, next);
        self.to.send(full).map_err(|_| ())
    }
}

/// A pair of channels for chunks of `T`: the sending side, and the receiving side with the way
/// back for emptied chunks.
fn chunks<T>() -> (Chunks<T>, Receiver<Vec<T>>, SyncSender<Vec<T>>) {
    let (to, from) = sync_channel(CHUNKS_IN_FLIGHT);
    let (back_to, back) = sync_channel(CHUNKS_IN_FLIGHT + 2);
    (
        Chunks {
            to,
            back,
            filling: Vec::with_capacity(CHUNK),
        },
        from,
        back_to,
    )
}

type RawChunk = Vec<Result<RawRecord, SourceError>>;

/// The reading stage as the mapping stage sees it: a source whose records arrive from the
/// reading thread, and whose recycled records go back to it.
struct Relay {
    chunks: Receiver<RawChunk>,
    emptied: SyncSender<RawChunk>,
    pending: VecDeque<Result<RawRecord, SourceError>>,
    /// Records the mapping is done with, sent back to the reader a chunk at a time.
    returned: Vec<RawRecord>,
    spares: SyncSender<Vec<RawRecord>>,
    columns: Vec<String>,
    bytes: Arc<AtomicU64>,
}

impl Source for Relay {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_record(&mut self) -> Result<Option<RawRecord>, SourceError> {
        loop {
            if let Some(next) = self.pending.pop_front() {
                return next.map(Some);
            }
            match self.chunks.recv() {
                Ok(mut chunk) => {
                    self.pending.extend(chunk.drain(..));
                    let _ = self.emptied.try_send(chunk);
                }
                Err(_) => return Ok(None),
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn recycle(&mut self, record: RawRecord) {
        self.returned.push(record);
        if self.returned.len() >= CHUNK {
            // A full return channel only means the reader has spares enough.
            let full = std::mem::replace(&mut self.returned, Vec::with_capacity(CHUNK));
            let _ = self.spares.try_send(full);
        }
    }
}

/// Read `source` to its end (or `limit` rows) into `chunks`, refilling records handed back on
/// `spares`. Stops at a fatal error (after sending it), at Ctrl-C, or when the next stage stops.
fn pump(
    source: &mut dyn Source,
    limit: Option<u64>,
    mut chunks: Chunks<Result<RawRecord, SourceError>>,
    spares: Receiver<Vec<RawRecord>>,
    bytes: &AtomicU64,
) {
    let mut read = 0u64;
    let mut kept: Vec<RawRecord> = Vec::new();
    while limit.is_none_or(|l| read < l) && interrupt::requested().is_none() {
        // One record back per record read: a source keeps one spare at a time.
        if kept.is_empty()
            && let Ok(more) = spares.try_recv()
        {
            kept = more;
        }
        if let Some(spare) = kept.pop() {
            source.recycle(spare);
        }
        let next = source.next_record();
        bytes.store(source.bytes_read(), Ordering::Relaxed);
        let fatal = match next {
            Ok(None) => break,
            Ok(Some(r)) => chunks.push(Ok(r)).is_err(),
            Err(e) => {
                let fatal = e.is_fatal();
                chunks.push(Err(e)).is_err() || fatal
            }
        };
        read += 1;
        if fatal {
            break;
        }
    }
    let _ = chunks.send();
}

/// [`drive`] with reading, mapping and `sink` each on a thread of its own (`sink` on the calling
/// one); the rows reach `sink` in source order. When `sink` fails, the other stages stop and its
/// error is the drive's.
pub fn drive_parallel(
    source: &mut dyn Source,
    mapping: &Mapping,
    binding: &Binding,
    limit: Option<u64>,
    obs: &dyn Observer,
    mut sink: impl FnMut(u64, RowEvent) -> Result<(), PipelineError>,
) -> (Driven, Result<(), PipelineError>) {
    std::thread::scope(|scope| {
        let bytes = Arc::new(AtomicU64::new(0));
        let (raw, raw_rx, raw_back) = chunks::<Result<RawRecord, SourceError>>();
        let (spare_tx, spare_rx) = sync_channel::<Vec<RawRecord>>(2);
        let mut relay = Relay {
            chunks: raw_rx,
            emptied: raw_back,
            pending: VecDeque::with_capacity(CHUNK),
            returned: Vec::with_capacity(CHUNK),
            spares: spare_tx,
            columns: source.columns().to_vec(),
            bytes: bytes.clone(),
        };
        let reader_bytes = bytes.clone();
        scope.spawn(move || pump(source, limit, raw, spare_rx, &reader_bytes));
        let (mut mapped, rx, back) = chunks::<(u64, RowEvent)>();
        let mapper = scope.spawn(move || {
            let (driven, result) = drive(&mut relay, mapping, binding, limit, obs, |row, event| {
                mapped
                    .push((row, event))
                    .map_err(|_| PipelineError::Input("the load stopped reading".into()))
            });
            let _ = mapped.send();
            (driven, result)
        });
        let mut failed = None;
        'chunks: while let Ok(mut chunk) = rx.recv() {
            for (row, event) in chunk.drain(..) {
                if let Err(e) = sink(row, event) {
                    failed = Some(e);
                    break 'chunks;
                }
            }
            let _ = back.try_send(chunk);
        }
        // Dropping the receiving ends stops the stages upstream.
        drop(rx);
        let (driven, result) = match mapper.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failed {
            Some(e) => (driven, Err(e)),
            None => (driven, result),
        }
    })
}
