//! Everything opsync shows a person or a scheduler: tables, summaries, warnings, errors, JSON
//! log lines and progress bars. With `cmd/`, the only code that prints.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::cli::{Global, LogFormat, TableFormat};
use crate::pipeline::{Observer, Summary};

/// How output is shown this time.
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    progress: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Output {
    pub fn new(g: &Global) -> Self {
        let json = g.log_format == LogFormat::Json;
        let progress = !g.no_progress && !g.quiet && !json && std::io::stderr().is_terminal();
        Output {
            json,
            quiet: g.quiet,
            verbose: g.verbose,
            progress,
            bar: Mutex::new(None),
        }
    }

    /// A JSON log line on standard error.
    pub fn event(&self, level: &str, event: &str, mut fields: serde_json::Value) {
        if let Some(m) = fields.as_object_mut() {
            m.insert("ts".into(), crate::ledger::runs::now().into());
            m.insert("level".into(), level.into());
            m.insert("event".into(), event.into());
        }
        eprintln!("{fields}");
    }

    pub fn info(&self, message: &str) {
        if self.quiet {
            return;
        }
        if self.json {
            self.event("info", "message", json!({ "message": message }));
        } else {
            self.suspend(|| eprintln!("{message}"));
        }
    }

    pub fn warn(&self, message: &str) {
        if self.json {
            self.event("warn", "warning", json!({ "message": message }));
        } else {
            self.suspend(|| eprintln!("opsync: warning: {message}"));
        }
    }

    /// An error with its chain of causes and, where the error carries one, a hint.
    pub fn error(&self, err: &anyhow::Error) {
        self.finish_progress();
        if self.json {
            let chain: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
            self.event("error", "error", json!({ "message": err.to_string(), "causes": chain }));
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "opsync: error: {}", indent(&err.to_string(), "  "));
        // An error whose message already holds its cause's (`PATH: CAUSE`) shows it once.
        let mut said = vec![err.to_string()];
        for cause in err.chain().skip(1) {
            let text = cause.to_string();
            if !said.iter().any(|s| s.contains(&text)) {
                let _ = writeln!(stderr, "  caused by: {}", indent(&text, "    "));
            }
            said.push(text);
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match self.bar.lock().ok().as_ref().and_then(|b| b.as_ref().cloned()) {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Start a progress bar over `total` bytes (a spinner when unknown).
    pub fn start_progress(&self, total: u64, label: &str) {
        if !self.progress {
            return;
        }
        let bar = if total > 0 {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_prefix(label.to_string());
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    pub fn finish_progress(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }

    /// The summary that closes a run.
    pub fn summary(&self, s: &Summary) {
        self.finish_progress();
        if self.json {
            let entities: serde_json::Map<String, serde_json::Value> = s
                .per_entity
                .iter()
                .map(|(e, l)| {
                    let mut v = json!(l.counts);
                    v["live_before"] = l.live_before.into();
                    v["live_after"] = l.live_after.into();
                    (e.to_string(), v)
                })
                .collect();
            self.event(
                if s.threshold.is_some() { "warn" } else { "info" },
                "run_finished",
                json!({
                    "run": s.run_id, "job": s.job, "status": s.status, "counts": s.counts, "entities": entities,
                    "rejected_rows": s.rejected_rows,
                    "warnings": s.warnings, "target": s.target, "elapsed_ms": s.elapsed.as_millis() as u64,
                    "lookup_misses": s.misses.iter().map(|(t, c, n)| json!({"lookup": t, "value": c, "rows": n})).collect::<Vec<_>>(),
                    "threshold": s.threshold,
                }),
            );
            return;
        }
        if self.quiet {
            for w in &s.warnings {
                self.warn(w);
            }
            if let Some(t) = &s.threshold {
                eprintln!("opsync: job {}: {t}", s.job);
            }
            return;
        }
        let c = &s.counts;
        let secs = s.elapsed.as_secs_f64();
        let rate = if secs > 0.0 { (c.read as f64 / secs) as u64 } else { 0 };
        println!(
            "run {} of job {}: {} in {:.2}s ({} rows/s) -> {}",
            s.run_id,
            s.job,
            s.status.as_str(),
            secs,
            rate,
            s.target
        );
        let mut b = Builder::default();
        b.push_record([
            "entity",
            "valid",
            "inserted",
            "updated",
            "unchanged",
            "deleted",
            "rejected",
            "deduplicated",
        ]);
        for (e, l) in &s.per_entity {
            let c = &l.counts;
            b.push_record([
                e.to_string(),
                c.valid.to_string(),
                c.inserted.to_string(),
                c.updated.to_string(),
                c.unchanged.to_string(),
                c.deleted.to_string(),
                c.rejected.to_string(),
                c.deduplicated.to_string(),
            ]);
        }
        println!("{}", b.build().with(Style::sharp()));
        let malformed = if c.malformed > 0 {
            format!(", malformed: {}", c.malformed)
        } else {
            String::new()
        };
        println!(
            "rows read: {}, filtered: {}{malformed}, with a rejected record: {}",
            c.read, c.filtered, s.rejected_rows
        );
        if !s.reject_reasons.is_empty() {
            println!("reject reasons (entity, field, rule, rows):");
            for (e, f, r, n) in &s.reject_reasons {
                println!("  {e}.{f} {r}: {n}");
            }
            println!("see them with: opsync rejects --run {}", s.run_id);
        }
        if !s.misses.is_empty() {
            println!("lookup misses (table, code, rows):");
            for (t, code, n) in s.misses.iter().take(20) {
                println!("  {t}: {code:?} x{n}");
            }
        }
        for w in s.warnings.iter().filter(|w| !w.starts_with("lookup ")) {
            self.warn(w);
        }
        if let Some(t) = &s.threshold {
            eprintln!("opsync: job {}: {t}", s.job);
        }
    }
}

impl Output {
    /// The closing table of a run of several jobs: each job and how it ended.
    pub fn jobs_summary(&self, jobs: &[(String, u8, &str)]) {
        if self.json {
            for (job, code, what) in jobs {
                self.event(
                    "info",
                    "job_finished",
                    json!({ "job_file": job, "exit_code": code, "outcome": what }),
                );
            }
            return;
        }
        if self.quiet {
            return;
        }
        let mut b = Builder::default();
        b.push_record(["job file", "outcome", "exit code"]);
        for (job, code, what) in jobs {
            let code = if *what == "skipped" {
                String::new()
            } else {
                code.to_string()
            };
            b.push_record([job.clone(), what.to_string(), code]);
        }
        println!("{}", b.build().with(Style::sharp()));
    }
}

impl Observer for Output {
    fn progress(&self, bytes: u64, rows: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.set_position(bytes);
            bar.set_message(format!("{rows} rows"));
        }
    }

    fn warning(&self, message: &str) {
        self.warn(message);
    }
}

/// Indent every line after the first (multi-line causes such as a list of diagnostics).
fn indent(text: &str, prefix: &str) -> String {
    text.replace('\n', &format!("\n{prefix}"))
}

/// Print rows as a table, CSV or JSON (an array of objects with the header's names).
pub fn print_rows(format: TableFormat, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        TableFormat::Table => {
            let mut b = Builder::default();
            b.push_record(header.iter().copied());
            for r in rows {
                b.push_record(r.iter().cloned());
            }
            writeln!(out, "{}", b.build().with(Style::sharp()))?;
        }
        TableFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(header)?;
            for r in rows {
                w.write_record(r)?;
            }
            w.flush()?;
        }
        TableFormat::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        header
                            .iter()
                            .map(|h| h.to_string())
                            .zip(r.iter().map(|v| v.clone().into()))
                            .collect(),
                    )
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        }
    }
    Ok(())
}
