//! Files written whole: `--out` of `extract` and `transform`, and a file target's files.
//!
//! A file is written beside the file it replaces and renamed over it only once complete, so that
//! a command refused or stopped part-way leaves what was there before. Where a path leads is
//! decided first, by following its symbolic links one at a time ([`landing`]): a link stays a
//! link and the file it names is the one replaced (or created, for a link to a missing file in an
//! existing folder); a loop or a missing folder is an error. A replaced file keeps its permission
//! bits and owner; a new one gets `0666` less the umask, as any other tool's output would.
//!
//! Some paths name something that must not be replaced by a plain file: a FIFO or a device is
//! written in place, and `/dev/stdout`, `/dev/fd/N` or `/proc/self/fd/N` is this process's own
//! open file (a shell's `>> log` appends, so the output does too); renaming a file over what such
//! a link points to would replace the whole log. A path through another process's `/proc/PID/fd`
//! is refused: what it names cannot be known to be safe to replace.

use std::fs::{File, Metadata};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// How many symbolic links a path may pass through (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Why an output path cannot be written; each message says what to do.
#[derive(Debug, Error)]
pub enum OutError {
    #[error("it is a folder; name a file to write")]
    Folder,
    #[error("the symbolic links loop ({0}); point the link at a file")]
    Loop(String),
    #[error("folder {0} does not exist; create it first or name a file in an existing folder")]
    MissingFolder(String),
    #[error("{0} is not a folder")]
    NotFolder(String),
    #[error(
        "it leads to {0}, an open file of another process; name the file itself (a process's own \
         /dev/stdout, /dev/stderr or /dev/fd/N is written where it points)"
    )]
    OtherProcess(String),
    #[error("file descriptor {0} of this process is not open for writing")]
    FdNotWritable(i32),
    #[error("no process is reading the FIFO {0}; start the reader first")]
    NoReader(String),
    #[error("cannot create a file in folder {dir}: {source}")]
    CannotCreate {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path, source: std::io::Error) -> OutError {
    OutError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where writing to a path lands.
#[derive(Debug)]
pub enum Landing {
    /// An open file descriptor of this process (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`).
    OwnFd(i32),
    /// A plain file at its real path (links followed), with its metadata when it exists.
    File { path: PathBuf, existing: Option<Metadata> },
    /// A FIFO, a device or a socket at its real path: written in place.
    Special { path: PathBuf, fifo: bool },
}

/// Follow `path`'s symbolic links one at a time to where a write would land.
pub fn landing(path: &Path) -> Result<Landing, OutError> {
    // `out/` names a folder, whatever is there.
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(OutError::Folder);
    }
    let mut current = path.to_path_buf();
    let mut chain = vec![path.display().to_string()];
    let mut seen: Vec<PathBuf> = Vec::new();
    for _ in 0..MAX_LINKS {
        let Some(name) = current.file_name().map(ToOwned::to_owned) else {
            return Err(OutError::Folder);
        };
        let parent = folder(&current);
        let dir = std::fs::canonicalize(parent).map_err(|e| folder_error(parent, &chain, e))?;
        let here = dir.join(&name);
        if seen.contains(&here) {
            return Err(OutError::Loop(chain.join(" -> ")));
        }
        if let Some((pid, fd)) = proc_fd(&here) {
            if pid != std::process::id() {
                return Err(OutError::OtherProcess(here.display().to_string()));
            }
            return Ok(Landing::OwnFd(fd));
        }
        let meta = match std::fs::symlink_metadata(&here) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Landing::File {
                    path: here,
                    existing: None,
                });
            }
            Err(e) => return Err(io(&here, e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let to = std::fs::read_link(&here).map_err(|e| io(&here, e))?;
            seen.push(here);
            chain.push(to.display().to_string());
            // A relative link is read from the folder it is in; an absolute one replaces it.
            current = dir.join(to);
        } else if kind.is_dir() {
            return Err(OutError::Folder);
        } else if kind.is_file() {
            return Ok(Landing::File {
                path: here,
                existing: Some(meta),
            });
        } else {
            return Ok(Landing::Special {
                path: here,
                fifo: is_fifo(&meta),
            });
        }
    }
    Err(OutError::Loop(chain.join(" -> ")))
}

/// The folder a file is in.
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The error for a folder on the way that cannot be resolved.
fn folder_error(dir: &Path, chain: &[String], e: std::io::Error) -> OutError {
    #[cfg(unix)]
    match e.raw_os_error() {
        Some(libc::ELOOP) => return OutError::Loop(format!("{} -> ...", chain.join(" -> "))),
        Some(libc::ENOTDIR) => return OutError::NotFolder(dir.display().to_string()),
        _ => {}
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        return OutError::MissingFolder(dir.display().to_string());
    }
    io(dir, e)
}

#[cfg(unix)]
fn is_fifo(meta: &Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_fifo(_: &Metadata) -> bool {
    false
}

/// `/proc/PID/fd/N` or `/proc/PID/task/TID/fd/N` (what `/dev/fd/N`, `/dev/stdout` and
/// `/proc/self/fd/N` become): the process and the descriptor.
fn proc_fd(path: &Path) -> Option<(u32, i32)> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let (pid, fd) = match parts.as_slice() {
        ["proc", pid, "fd", fd] | ["proc", pid, "task", _, "fd", fd] => (pid, fd),
        _ => return None,
    };
    Some((pid.parse().ok()?, fd.parse().ok()?))
}

/// How a file is known for "is this the same file": its device and inode when it exists, and
/// its real path (links followed) when that can be found.
#[derive(Debug, Clone, Default)]
pub struct FileId {
    dev_ino: Option<(u64, u64)>,
    path: Option<PathBuf>,
}

impl FileId {
    /// The file at `path`, links followed (an absent file by the path it would have).
    pub fn of(path: &Path) -> FileId {
        let dev_ino = std::fs::metadata(path).ok().and_then(|m| dev_ino(&m));
        let path = match landing(path) {
            Ok(Landing::File { path, .. } | Landing::Special { path, .. }) => Some(path),
            _ => None,
        };
        FileId { dev_ino, path }
    }

    fn of_open(file: &File, path: Option<PathBuf>) -> FileId {
        FileId {
            dev_ino: file.metadata().ok().and_then(|m| dev_ino(&m)),
            path,
        }
    }

    /// Whether the two are one file.
    pub fn same(&self, other: &FileId) -> bool {
        match (self.dev_ino, other.dev_ino) {
            (Some(a), Some(b)) => a == b,
            _ => matches!((&self.path, &other.path), (Some(a), Some(b)) if a == b),
        }
    }
}

#[cfg(unix)]
fn dev_ino(m: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dev_ino(_: &Metadata) -> Option<(u64, u64)> {
    None
}

/// A file written beside its final path and renamed over it only once complete (or, for a file
/// descriptor, a FIFO or a device, written in place). Dropped without a [`StagedFile::commit`]
/// that succeeded, the partial file is removed: a full disk must not keep the space it took, nor
/// leave files behind.
pub struct StagedFile {
    /// The file written, renamed over `path` on commit; `None` when written in place.
    tmp: Option<PathBuf>,
    path: PathBuf,
    out: Option<BufWriter<File>>,
    id: FileId,
    /// Renamed into place.
    placed: bool,
}

impl StagedFile {
    /// Decide where `path` leads and open it: nothing is written where it leads before
    /// [`StagedFile::commit`], except through a descriptor, a FIFO or a device.
    pub fn create(path: &Path) -> Result<Self, OutError> {
        match landing(path)? {
            Landing::OwnFd(fd) => {
                let file = own_fd(fd)?;
                Ok(Self::in_place(PathBuf::from(format!("/dev/fd/{fd}")), file, None))
            }
            Landing::Special { path, fifo } => {
                let file = open_special(&path, fifo)?;
                Ok(Self::in_place(path.clone(), file, Some(path)))
            }
            Landing::File { path, existing } => {
                let tmp = staging_path(&path, true);
                let file = super::create_private(&tmp).map_err(|source| OutError::CannotCreate {
                    dir: folder(&path).display().to_string(),
                    source,
                })?;
                let id = FileId {
                    dev_ino: existing.as_ref().and_then(dev_ino),
                    path: Some(path.clone()),
                };
                Ok(StagedFile {
                    tmp: Some(tmp),
                    path,
                    out: Some(BufWriter::new(file)),
                    id,
                    placed: false,
                })
            }
        }
    }

    fn in_place(path: PathBuf, file: File, real: Option<PathBuf>) -> Self {
        StagedFile {
            tmp: None,
            path,
            id: FileId::of_open(&file, real),
            out: Some(BufWriter::new(file)),
            placed: false,
        }
    }

    /// The file the output lands in.
    pub fn id(&self) -> &FileId {
        &self.id
    }

    /// The path the output lands at (links followed).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the temporary files that killed processes left for `path` (best effort). Only for
    /// a path written under a lock, where no other living process can be writing one.
    pub fn remove_stale(path: &Path) {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        let prefix = format!(".{}.", name.to_string_lossy());
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            let pid = n.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".tmp"));
            if pid.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Flush the file to disk and put it in place.
    pub fn commit(mut self) -> std::io::Result<()> {
        let file = match self.out.take() {
            Some(out) => Some(out.into_inner().map_err(|e| e.into_error())?),
            None => None,
        };
        let Some(tmp) = &self.tmp else {
            // Written in place: a descriptor, a FIFO or a device has nothing to rename.
            self.placed = true;
            return Ok(());
        };
        if let Some(file) = file {
            take_over(&file, &self.path)?;
            file.sync_all()?;
        }
        if let Some(e) = crate::pipeline::failpoint::error("out_rename") {
            return Err(e);
        }
        std::fs::rename(tmp, &self.path)?;
        self.placed = true;
        Ok(())
    }
}

impl std::io::Write for StagedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.out.as_mut() {
            Some(out) => out.write(buf),
            None => Err(std::io::Error::other("the file was already put in place")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().map_or(Ok(()), std::io::Write::flush)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.placed {
            drop(self.out.take());
            if let Some(tmp) = &self.tmp {
                let _ = std::fs::remove_file(tmp);
            }
        }
    }
}

/// The temporary file beside `path` that is renamed over it: with the process id when other
/// processes may be writing one at the same time (`--out`), without it under a lock.
pub(crate) fn staging_path(path: &Path, with_pid: bool) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if with_pid {
        path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
    } else {
        path.with_file_name(format!(".{name}.tmp"))
    }
}

/// Give `tmp`, about to be renamed over `replaced`, what the replaced file had: its permission
/// bits and (best effort: only root can give a file away) its owner. A new file gets `0666` less
/// the umask. The temporary file was created readable by its owner only, so the data is never
/// readable by others while it is written.
pub(crate) fn take_over(tmp: &File, replaced: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = match std::fs::metadata(replaced) {
            Ok(m) => {
                let ours = tmp.metadata()?;
                if (m.uid(), m.gid()) != (ours.uid(), ours.gid()) {
                    let _ = std::os::unix::fs::fchown(tmp, Some(m.uid()), Some(m.gid()));
                }
                m.mode() & 0o777
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0o666 & !umask(),
            Err(e) => return Err(e),
        };
        tmp.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (tmp, replaced);
    Ok(())
}

/// The process's umask, read without changing it where Linux shows it (`/proc/self/status`);
/// elsewhere set and restored once, the first time it is needed.
#[cfg(unix)]
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let shown = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        });
        // SAFETY: umask(2) cannot fail; the old mask is put back at once.
        #[allow(clippy::useless_conversion)] // mode_t is u32 on Linux, u16 on macOS
        shown.unwrap_or_else(|| unsafe {
            let old = libc::umask(0o022);
            libc::umask(old);
            u32::from(old)
        })
    })
}

/// A duplicate of this process's open descriptor `fd`, checked to be open for writing.
#[cfg(unix)]
fn own_fd(fd: i32) -> Result<File, OutError> {
    use std::os::fd::BorrowedFd;
    // SAFETY: F_GETFL only reads the descriptor's flags; -1 means it is not open.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(OutError::FdNotWritable(fd));
    }
    // SAFETY: the descriptor was just seen open, and is borrowed only to duplicate it.
    let owned = unsafe { BorrowedFd::borrow_raw(fd) }
        .try_clone_to_owned()
        .map_err(|e| io(Path::new(&format!("/dev/fd/{fd}")), e))?;
    Ok(File::from(owned))
}

#[cfg(not(unix))]
fn own_fd(fd: i32) -> Result<File, OutError> {
    Err(OutError::FdNotWritable(fd))
}

/// Open a FIFO or a device to write in place. A FIFO is opened without waiting: with no reader
/// an open would block for ever (and a signal would not end it), so that is an error instead.
#[cfg(unix)]
fn open_special(path: &Path, fifo: bool) -> Result<File, OutError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if fifo && e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(OutError::NoReader(path.display().to_string()));
        }
        Err(e) => return Err(io(path, e)),
    };
    // Writes then wait for a slow reader rather than fail.
    // SAFETY: fcntl on a descriptor this function owns.
    let cleared = unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        flags != -1 && libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) != -1
    };
    if !cleared {
        return Err(io(path, std::io::Error::last_os_error()));
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_special(path: &Path, _fifo: bool) -> Result<File, OutError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_staged_file_that_cannot_be_put_in_place_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut f = StagedFile::create(&path).unwrap();
        // A folder in the way: the rename fails after the file was written.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "x").unwrap();
        f.write_all(b"a,b\n").unwrap();
        assert!(f.commit().is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["out.csv"]);
    }

    #[test]
    fn stale_staged_files_of_killed_processes_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.json");
        for name in [".list.json.123.tmp", ".list.json.tmp", ".list.json.x1.tmp", "list.json"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        StagedFile::remove_stale(&path);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        left.sort();
        assert_eq!(left, [".list.json.tmp", ".list.json.x1.tmp", "list.json"]);
    }

    #[test]
    fn proc_fd_paths_name_their_process_and_descriptor() {
        assert_eq!(proc_fd(Path::new("/proc/12/fd/1")), Some((12, 1)));
        assert_eq!(proc_fd(Path::new("/proc/12/task/13/fd/2")), Some((12, 2)));
        assert_eq!(proc_fd(Path::new("/proc/12/fdinfo/1")), None);
        assert_eq!(proc_fd(Path::new("/tmp/proc/12/fd/1")), None);
    }

    #[test]
    fn links_are_followed_to_the_file_they_name_and_loops_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = std::fs::canonicalize(dir.path()).unwrap();
        std::os::unix::fs::symlink("sub/missing.jsonl", d.join("dangling")).unwrap();
        assert!(matches!(landing(&d.join("dangling")), Err(OutError::MissingFolder(_))));
        std::fs::create_dir(d.join("sub")).unwrap();
        match landing(&d.join("dangling")).unwrap() {
            Landing::File { path, existing: None } => assert_eq!(path, d.join("sub/missing.jsonl")),
            other => panic!("{other:?}"),
        }
        std::os::unix::fs::symlink("loop2", d.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", d.join("loop2")).unwrap();
        assert!(matches!(landing(&d.join("loop1")), Err(OutError::Loop(_))));
        assert!(matches!(landing(&d.join("sub")), Err(OutError::Folder)));
    }
}
