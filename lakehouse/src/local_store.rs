//! A local-filesystem object store that does the Delta writer's file operations on the calling
//! thread.
//!
//! Why: object_store's `LocalFileSystem` hands every operation to tokio's blocking pool and
//! parks the caller until it is done. A Delta commit makes dozens of them (the Parquet upload,
//! the log entry, the snapshot update's listing and reads), and `perf sched` measured the
//! committing thread blocked ~27 ms a commit on those hand-offs against ~15 ms of work. The
//! files are small and local: writing or reading them in place costs less than the hand-off.
//!
//! Guarantees kept from `LocalFileSystem`, which exactly-once depends on:
//! - a put is atomic: the bytes go to a staging file beside the destination (`name#N`, the
//!   name `LocalFileSystem` uses), which is then renamed over it, or hard-linked to it for
//!   [`PutMode::Create`], so no reader ever sees a partial file;
//! - [`PutMode::Create`] fails with `AlreadyExists` when the destination exists: the Delta
//!   log's mutual exclusion between writers of one version;
//! - listings never show staging files, and paths map to files exactly as `LocalFileSystem`
//!   maps them (its own `path_to_filesystem`).
//!
//! Puts, gets and prefix listings are done here; everything else (multipart uploads, copies,
//! renames, deletes, delimited listings) is `LocalFileSystem`'s own code.

use std::fs::{self, File, Metadata};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use deltalake::logstore::object_store::local::LocalFileSystem;
use deltalake::logstore::object_store::path::Path;
use deltalake::logstore::object_store::{
    Attributes, CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, RenameOptions, Result,
};
use futures::stream::{self, BoxStream, StreamExt};

const STORE: &str = "InlineLocalStore";

/// The local filesystem, rooted at `/` like `LocalFileSystem::new()`, with puts, gets and
/// listings done on the calling thread (see the module docs).
#[derive(Debug, Default)]
pub struct InlineLocalStore {
    files: LocalFileSystem,
}

impl InlineLocalStore {
    /// The store, rooted at `/`.
    pub fn new() -> Self {
        InlineLocalStore::default()
    }
}

impl std::fmt::Display for InlineLocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{STORE}")
    }
}

#[async_trait]
impl ObjectStore for InlineLocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let create = match opts.mode {
            PutMode::Overwrite if opts.attributes.is_empty() => false,
            PutMode::Create if opts.attributes.is_empty() => true,
            // Conditional updates and attributes: `LocalFileSystem` reports them unsupported.
            _ => return self.files.put_opts(location, payload, opts).await,
        };
        let path = self.files.path_to_filesystem(location)?;
        put_atomically(&path, &payload, create)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.files.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let path = self.files.path_to_filesystem(location)?;
        let file = File::open(&path).map_err(|e| io_error(&path, e))?;
        let metadata = file.metadata().map_err(|e| io_error(&path, e))?;
        if metadata.is_dir() {
            let source = io::Error::new(ErrorKind::NotFound, "is a directory");
            return Err(io_error(&path, source));
        }
        let meta = object_meta(&metadata, location.clone());
        options.check_preconditions(&meta)?;
        let range = match &options.range {
            Some(range) => range.as_range(meta.size).map_err(generic)?,
            None => 0..meta.size,
        };
        let bytes = if options.head {
            Bytes::new()
        } else {
            read_range(&file, &path, range.clone())?
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.files.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.list_after(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.list_after(prefix, Some(offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.files.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.files.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.files.rename_opts(from, to, options).await
    }
}

impl InlineLocalStore {
    /// Every file under `prefix` (recursively, following symlinks) whose path sorts after
    /// `offset`, read now; the whole filesystem (no prefix) is left to `LocalFileSystem`.
    fn list_after(
        &self,
        prefix: Option<&Path>,
        offset: Option<&Path>,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let Some(prefix) = prefix else {
            return match offset {
                Some(offset) => self.files.list_with_offset(None, offset),
                None => self.files.list(None),
            };
        };
        let listed = self
            .files
            .path_to_filesystem(prefix)
            .and_then(|root| list_files(&root, offset));
        match listed {
            Ok(metas) => stream::iter(metas.into_iter().map(Ok)).boxed(),
            Err(error) => stream::once(async move { Err(error) }).boxed(),
        }
    }
}

/// Writes `payload` to a staging file beside `path`, then renames it over `path` or, when
/// `create`, hard-links it to `path` (failing with `AlreadyExists` if `path` exists).
fn put_atomically(path: &std::path::Path, payload: &PutPayload, create: bool) -> Result<PutResult> {
    let (mut file, staging) = staging_file(path)?;
    let written = payload
        .iter()
        .try_for_each(|chunk| file.write_all(chunk))
        .and_then(|()| file.metadata());
    drop(file);
    let metadata = match written {
        Ok(metadata) => metadata,
        Err(source) => {
            let _ = fs::remove_file(&staging);
            return Err(io_error(&staging, source));
        }
    };
    let placed = if create {
        fs::hard_link(&staging, path)
    } else {
        fs::rename(&staging, path)
    };
    if create || placed.is_err() {
        // The link (or the failed rename) leaves the staging name behind.
        let _ = fs::remove_file(&staging);
    }
    placed.map_err(|e| io_error(path, e))?;
    Ok(PutResult {
        e_tag: Some(e_tag(&metadata)),
        version: None,
    })
}

/// Creates a new staging file `{path}#N` (the first free N), creating parent directories.
fn staging_file(path: &std::path::Path) -> Result<(File, PathBuf)> {
    let mut suffix = 1u64;
    loop {
        let mut staging = path.as_os_str().to_owned();
        staging.push(format!("#{suffix}"));
        let staging = PathBuf::from(staging);
        match File::options().write(true).create_new(true).open(&staging) {
            Ok(file) => return Ok((file, staging)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => suffix += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let parent = staging.parent().ok_or_else(|| io_error(&staging, e))?;
                fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            Err(e) => return Err(io_error(&staging, e)),
        }
    }
}

fn read_range(file: &File, path: &std::path::Path, range: std::ops::Range<u64>) -> Result<Bytes> {
    let length = usize::try_from(range.end - range.start).map_err(generic)?;
    let mut buffer = vec![0u8; length];
    file.read_exact_at(&mut buffer, range.start)
        .map_err(|e| io_error(path, e))?;
    Ok(Bytes::from(buffer))
}

/// The files under `root`, sorted by path, skipping staging files and, when given, every path
/// up to and including `offset`. A missing `root` lists nothing.
fn list_files(root: &std::path::Path, offset: Option<&Path>) -> Result<Vec<ObjectMeta>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                continue;
            }
            Err(e) => return Err(io_error(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&dir, e))?;
            let file_path = entry.path();
            let location = Path::from_absolute_path(&file_path).map_err(generic)?;
            let skipped = offset.is_some_and(|o| location <= *o) || is_staging(&location);
            // Skip before `stat`, as `LocalFileSystem` does: the log holds every version.
            if skipped && entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            // Follows symlinks; a file gone since `read_dir` or a broken link is skipped.
            match fs::metadata(&file_path) {
                Ok(metadata) if metadata.is_dir() => pending.push(file_path),
                Ok(metadata) if metadata.is_file() && !skipped => {
                    found.push(object_meta(&metadata, location));
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&file_path, e)),
            }
        }
    }
    found.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(found)
}

/// A staging file of an unfinished put: a name ending in `#` and digits.
fn is_staging(location: &Path) -> bool {
    location
        .filename()
        .and_then(|name| name.rsplit_once('#'))
        .is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

fn object_meta(metadata: &Metadata, location: Path) -> ObjectMeta {
    ObjectMeta {
        location,
        last_modified: metadata
            .modified()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_default(),
        size: metadata.len(),
        e_tag: Some(e_tag(metadata)),
        version: None,
    }
}

/// `LocalFileSystem`'s entity tag (inode, modification time, size), so a file reads the same
/// through either store.
fn e_tag(metadata: &Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("{:x}-{modified:x}-{:x}", metadata.ino(), metadata.len())
}

fn io_error(path: &std::path::Path, source: io::Error) -> Error {
    let path = path.display().to_string();
    match source.kind() {
        ErrorKind::NotFound => Error::NotFound {
            path,
            source: Box::new(source),
        },
        ErrorKind::AlreadyExists => Error::AlreadyExists {
            path,
            source: Box::new(source),
        },
        _ => Error::Generic {
            store: STORE,
            source: format!("{path}: {source}").into(),
        },
    }
}

fn generic(source: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Generic {
        store: STORE,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::logstore::object_store::ObjectStoreExt;

    fn location(dir: &tempfile::TempDir, name: &str) -> Path {
        Path::from_absolute_path(dir.path().join(name)).unwrap()
    }

    #[tokio::test]
    async fn a_create_put_refuses_an_existing_object_and_leaves_no_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = InlineLocalStore::new();
        let commit = location(&dir, "_delta_log/00000000000000000001.json");
        let create = PutOptions::from(PutMode::Create);
        store
            .put_opts(&commit, Bytes::from_static(b"first").into(), create.clone())
            .await
            .unwrap();
        let again = store
            .put_opts(&commit, Bytes::from_static(b"second").into(), create)
            .await;
        assert!(
            matches!(again, Err(Error::AlreadyExists { .. })),
            "{again:?}"
        );
        let bytes = store.get(&commit).await.unwrap().bytes().await.unwrap();
        assert_eq!(bytes.as_ref(), b"first");
        let names: Vec<_> = fs::read_dir(dir.path().join("_delta_log"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["00000000000000000001.json"]);
    }

    #[tokio::test]
    async fn an_overwrite_put_replaces_the_object_and_reads_back_by_range() {
        let dir = tempfile::tempdir().unwrap();
        let store = InlineLocalStore::new();
        let file = location(&dir, "part/a.parquet");
        store
            .put(&file, Bytes::from_static(b"old").into())
            .await
            .unwrap();
        let put = store
            .put(&file, Bytes::from_static(b"0123456789").into())
            .await
            .unwrap();
        assert_eq!(store.get_range(&file, 2..5).await.unwrap().as_ref(), b"234");
        let head = store.head(&file).await.unwrap();
        assert_eq!(head.size, 10);
        assert_eq!(head.e_tag, put.e_tag);
        let reference = LocalFileSystem::new().head(&file).await.unwrap();
        assert_eq!(
            head.e_tag, reference.e_tag,
            "the same tag as LocalFileSystem's"
        );
        let missing = store.get(&location(&dir, "part/b.parquet")).await;
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn listings_match_local_file_systems_and_skip_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = InlineLocalStore::new();
        for name in ["log/1.json", "log/2.json", "log/3.json", "log/sub/x.json"] {
            store
                .put(&location(&dir, name), Bytes::from_static(b"{}").into())
                .await
                .unwrap();
        }
        fs::write(dir.path().join("log/4.json#1"), b"partial").unwrap();
        let prefix = location(&dir, "log");
        let offset = location(&dir, "log/1.json");
        let reference = LocalFileSystem::new();
        for offset in [None, Some(&offset)] {
            let ours = listed(&store, &prefix, offset).await;
            let theirs = listed(&reference, &prefix, offset).await;
            assert_eq!(ours, theirs, "offset {offset:?}");
        }
        let after_one: Vec<String> = listed(&store, &prefix, Some(&offset))
            .await
            .into_iter()
            .map(|m| m.location.filename().unwrap().to_string())
            .collect();
        assert_eq!(after_one, ["2.json", "3.json", "x.json"]);
        let nothing = listed(&store, &location(&dir, "absent"), None).await;
        assert!(nothing.is_empty());
    }

    async fn listed(
        store: &dyn ObjectStore,
        prefix: &Path,
        offset: Option<&Path>,
    ) -> Vec<ObjectMeta> {
        let listing = match offset {
            Some(offset) => store.list_with_offset(Some(prefix), offset),
            None => store.list(Some(prefix)),
        };
        let mut metas: Vec<ObjectMeta> = listing.map(|m| m.unwrap()).collect().await;
        metas.sort_by(|a, b| a.location.cmp(&b.location));
        metas
    }
}
