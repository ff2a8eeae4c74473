//! The command line: global options and one variant per subcommand (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, for `--help` and the reference.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    the run failed (I/O, target down, its accounting did not add up, bug)
  2    usage or configuration error (bad flag, invalid job or mapping file, mapped column missing)
  3    finished, but rejects exceeded the job's threshold, or a snapshot would have deleted more
       than max_delete_percent (nothing was deleted)
  4    reconciliation found exceptions beyond the threshold
  5    another run of the same job holds the lock
  130  interrupted by Ctrl-C; 143 by SIGTERM (recorded as interrupted; run again to finish)
With several jobs, the exit code is the most severe of theirs: 1, 2, 130/143, 5, 3, 0.";

/// Batch synchronization of healthcare operations data through one canonical model.
#[derive(Debug, Parser)]
#[command(name = "opsync", version, about, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The run ledger (SQLite file); default: the `ledger` of the nearest opsync.toml above the
    /// job file (or the working folder), else opsync.db beside the job file
    #[arg(
        long,
        global = true,
        env = "OPSYNC_LEDGER",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub ledger: Option<PathBuf>,
    /// Log lines as text for people or JSON for schedulers
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print only errors and warnings
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more detail
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Never draw progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Table, CSV or JSON output of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Csv,
    Json,
}

/// Output of `validate` and `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
}

/// Output of `schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaFormat {
    Table,
    JsonSchema,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Extract, transform and load in one streaming pass (what cron calls)
    #[command(
        after_help = "Example:\n  opsync run mappings/openboxes/products.job.toml\n  opsync --log-format json --no-progress run jobs/*.job.toml"
    )]
    Run {
        /// Job files, run one after the other; every one runs even when an earlier one fails
        #[arg(required = true, value_name = "JOB")]
        jobs: Vec<PathBuf>,
        /// Stop after this many source rows (a trial; snapshot deletes are skipped)
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Compare every record with the target by its values, not by the stored hashes, and
        /// rewrite what differs (after the target was edited by hand)
        #[arg(long)]
        full_refresh: bool,
        /// Stop at the first job that fails instead of running the rest
        #[arg(long)]
        fail_fast: bool,
    },
    /// Read the job's source into raw records (JSON Lines); nothing is loaded
    #[command(after_help = "Example:\n  opsync extract mappings/snipeit/assets.job.toml --out raw.jsonl")]
    Extract {
        job: PathBuf,
        /// Output file (standard output when absent)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Raw records -> canonical records (JSON Lines); rejects go to the ledger
    #[command(
        after_help = "Example:\n  opsync transform mappings/snipeit/assets.job.toml --in raw.jsonl --out canonical.jsonl"
    )]
    Transform {
        job: PathBuf,
        /// Raw records from `opsync extract` (the job's source when absent)
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Output file (standard output when absent)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Canonical records (JSON Lines) -> the job's target
    #[command(after_help = "Example:\n  opsync load mappings/snipeit/assets.job.toml --in canonical.jsonl")]
    Load {
        job: PathBuf,
        /// Canonical records from `opsync transform` (standard input when absent)
        #[arg(long = "in", value_name = "FILE")]
        input: Option<PathBuf>,
        /// Compare every record with the target by its values, not by the stored hashes
        #[arg(long)]
        full_refresh: bool,
    },
    /// Show the first canonical records and rejects of a job; nothing is written
    #[command(after_help = "Example:\n  opsync preview mappings/erp/suppliers.job.toml -n 5")]
    Preview {
        job: PathBuf,
        /// Source rows to read
        #[arg(short = 'n', long, default_value_t = 20)]
        rows: u64,
    },
    /// Check job and mapping files without data, network or ledger
    #[command(
        after_help = "Example:\n  opsync validate mappings/\n  opsync validate --format junit mappings/ > validate.xml"
    )]
    Validate {
        /// Files or folders (every *.toml below them); `mappings/` when absent
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Run the fixture cases declared in mapping files
    #[command(after_help = "Example:\n  opsync test mappings/\n  opsync test --format junit mappings/ > tests.xml")]
    Test {
        /// Files or folders (every *.toml below them); `mappings/` when absent
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Compare two datasets of one entity by key: matched, mismatched (each field with both
    /// values), only on one side, duplicate keys
    #[command(
        after_help = "A side is a SQLite target (FILE.db or sqlite:FILE: the entity's table), a job \
(FILE.job.toml or job:FILE: its source read through its mapping, nothing loaded) or canonical records \
(FILE.jsonl or jsonl:FILE: opsync transform output).\n\nRules: exact (the default), trim, nocase, abs=N \
(|left - right| <= N), rel=N (|left - right| <= N x the larger), days=N, ignore.\n\nExample:\n  \
opsync reconcile --left out/opsync-demo.db --right mappings/openboxes/products.job.toml --entity item \\\n    \
--compare unit_cost:abs=0.01 --compare description:trim"
    )]
    Reconcile {
        /// The left side (see below)
        #[arg(long, value_name = "SIDE")]
        left: String,
        /// The right side
        #[arg(long, value_name = "SIDE")]
        right: String,
        /// The canonical entity compared (its key pairs the rows)
        #[arg(long)]
        entity: String,
        /// A field and its rule, FIELD or FIELD:RULE; repeat for each field
        #[arg(long = "compare", value_name = "FIELD[:RULE]")]
        compare: Vec<String>,
        /// Compare only the fields named with --compare (by default every field, exactly unless named)
        #[arg(long)]
        only_named: bool,
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
        /// Exit 4 when there are more exceptions than this (for schedulers)
        #[arg(long, value_name = "N")]
        max_exceptions: Option<u64>,
    },
    /// Run history from the ledger
    #[command(after_help = "Example:\n  opsync runs --job openboxes-products -n 5\n  opsync runs show 12")]
    Runs {
        #[command(subcommand)]
        show: Option<RunsCommand>,
        /// Only runs of this job
        #[arg(long)]
        job: Option<String>,
        /// How many runs
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Rejected records with their reasons
    #[command(after_help = "Example:\n  opsync rejects\n  opsync rejects --run 12 --format csv > rejects.csv")]
    Rejects {
        /// Run id (the latest run with rejects when absent)
        #[arg(long)]
        run: Option<i64>,
        /// How many rejects
        #[arg(short = 'n', long, default_value_t = 1000)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// The canonical model, as a table or JSON Schema
    #[command(after_help = "Example:\n  opsync schema\n  opsync schema item --format json-schema")]
    Schema {
        entity: Option<String>,
        #[arg(long, value_enum, default_value_t = SchemaFormat::Table)]
        format: SchemaFormat,
    },
    /// Columns, inferred types and samples of a flat file or sheet, and a starter mapping
    #[command(
        after_help = "Example:\n  opsync inspect samples/openboxes/products.csv\n  opsync inspect export.csv --mapping-out my.mapping.toml"
    )]
    Inspect {
        file: PathBuf,
        /// Sheet name of a workbook
        #[arg(long)]
        sheet: Option<String>,
        /// Encoding of a text file (detected from a BOM or the bytes when absent)
        #[arg(long)]
        encoding: Option<String>,
        /// Rows to read for inference
        #[arg(short = 'n', long, default_value_t = 1000)]
        rows: usize,
        /// Write the starter mapping to this file instead of printing it
        #[arg(long, value_name = "FILE")]
        mapping_out: Option<PathBuf>,
    },
    /// Field-level lineage of one canonical record
    #[command(after_help = "Example:\n  opsync explain item QX039\n  opsync explain purchase_order_line 'PO-1001|2'")]
    Explain {
        entity: String,
        /// Natural key; parts of a composite key joined by '|' (a '|' inside a part written '\\|')
        key: String,
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run in detail: counts per entity, warnings, lookup misses, reject reasons
    Show {
        run: i64,
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
}

impl Global {
    /// The ledger for a command about `job` (or about no job): see [`crate::config::project`].
    pub fn ledger_for(&self, job: Option<&std::path::Path>) -> Result<PathBuf, crate::config::ConfigError> {
        crate::config::project::ledger_path(self.ledger.as_deref(), job)
    }
}
