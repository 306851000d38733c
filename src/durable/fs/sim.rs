//! A simulated disk for deterministic crash tests.
//!
//! Owns an in-memory namespace and file contents with two views each: what the OS would show
//! now (`live`) and what would survive a power loss (`durable`). A file's data becomes durable
//! at `sync_data`; a directory entry (create, rename, unlink) when its parent is `sync_dir`ed.
//! [`SimFs::crash`] throws the rest away, wholly or torn at any byte, using a seeded PRNG so a
//! failing case replays exactly. It can also fail fsyncs with EIO (and then, like Linux after
//! an EIO, report later fsyncs of that file as fine while the data stays lost) and run out of
//! space at a byte budget. It must never be used outside tests (fuzzing counts as one).

use std::{
    collections::{BTreeMap, HashMap},
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use parking_lot::Mutex;

use super::{DirEntry, FileHandle, FileRef, Filesystem, OpenMode};

/// SplitMix64: tiny, seedable, good enough to pick crash outcomes and workloads.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// True with probability `num/den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    File(u64),
}

#[derive(Debug, Default)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
    /// An fsync failed: the dirty data at that point is gone at the next crash, whatever
    /// later fsyncs report (Linux marks the pages clean after EIO).
    lost: bool,
}

#[derive(Debug)]
struct Sim {
    rng: Rng,
    /// Bumped at each crash; handles from before refuse every call.
    generation: u64,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    live: BTreeMap<PathBuf, Node>,
    durable: BTreeMap<PathBuf, Node>,
    space_limit: Option<u64>,
    fail_fsyncs: u32,
    fsyncs: u64,
    /// A power loss is due after this many more mutating operations.
    crash_in: Option<u64>,
    /// The power is out: every call fails until [`SimFs::revive`].
    down: bool,
}

/// The simulated disk; clone the `Arc` to share it between a log and the test.
#[derive(Debug)]
pub(crate) struct SimFs(Arc<Mutex<Sim>>);

#[derive(Debug)]
struct SimFile {
    sim: Arc<Mutex<Sim>>,
    inode: u64,
    generation: u64,
    writable: bool,
}

fn err(kind: io::ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, what.to_owned())
}

fn parent_of(p: &Path) -> PathBuf {
    p.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

impl SimFs {
    pub(crate) fn new(seed: u64) -> Arc<Self> {
        Arc::new(Self(Arc::new(Mutex::new(Sim {
            rng: Rng::new(seed ^ 0x5eed),
            generation: 0,
            inodes: HashMap::new(),
            next_inode: 1,
            live: BTreeMap::new(),
            durable: BTreeMap::new(),
            space_limit: None,
            fail_fsyncs: 0,
            fsyncs: 0,
            crash_in: None,
            down: false,
        }))))
    }

    /// Bytes of live files beyond which writes fail with `StorageFull` (`None` = unlimited).
    pub(crate) fn set_space_limit(&self, limit: Option<u64>) {
        self.0.lock().space_limit = limit;
    }

    /// Bytes in live files now.
    pub(crate) fn used(&self) -> u64 {
        self.0.lock().used()
    }

    /// The next `n` file fsyncs fail with EIO.
    pub(crate) fn fail_next_fsyncs(&self, n: u32) {
        self.0.lock().fail_fsyncs = n;
    }

    /// File fsyncs attempted so far (failed ones included).
    pub(crate) fn fsyncs(&self) -> u64 {
        self.0.lock().fsyncs
    }

    /// Power loss now: every open handle dies, unsynced directory changes are kept or dropped
    /// per directory, unsynced file data is dropped, kept, or torn at a random byte.
    pub(crate) fn crash(&self) {
        let mut sim = self.0.lock();
        sim.power_loss();
    }

    /// Power loss after `n` more mutating calls (writes, truncations, fsyncs, directory
    /// changes), so a crash can fall in the middle of a roll, a compaction or a close. From
    /// then on every call fails until [`SimFs::revive`].
    pub(crate) fn crash_after(&self, n: u64) {
        self.0.lock().crash_in = Some(n);
    }

    /// Whether a scheduled power loss happened.
    pub(crate) fn is_down(&self) -> bool {
        self.0.lock().down
    }

    /// Power back on (handles from before stay dead).
    pub(crate) fn revive(&self) {
        let mut sim = self.0.lock();
        sim.down = false;
        sim.crash_in = None;
    }
}

/// Everything under `dir` (a path's descendants sort right after it).
fn descendants<'a>(
    map: &'a BTreeMap<PathBuf, Node>,
    dir: &'a Path,
) -> impl Iterator<Item = (&'a PathBuf, &'a Node)> + 'a {
    use std::ops::Bound;
    map.range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
        .take_while(move |(p, _)| p.starts_with(dir))
}

/// The paths of some entries (collected, so the map can change after).
fn paths<'a>(entries: impl Iterator<Item = (&'a PathBuf, &'a Node)>) -> Vec<PathBuf> {
    entries.map(|(p, _)| p.clone()).collect()
}

fn remove_all(map: &mut BTreeMap<PathBuf, Node>, paths: Vec<PathBuf>) {
    for p in paths {
        map.remove(&p);
    }
}

/// The direct entries of `dir`.
fn children<'a>(
    map: &'a BTreeMap<PathBuf, Node>,
    dir: &'a Path,
) -> impl Iterator<Item = (&'a PathBuf, &'a Node)> + 'a {
    descendants(map, dir).filter(move |(p, _)| p.parent() == Some(dir))
}

/// `data` cut at a random byte past what it shares with `synced`; `synced` shows beyond it.
fn torn(synced: &[u8], data: &[u8], r: u64) -> Vec<u8> {
    let common = synced.iter().zip(data).take_while(|(a, b)| a == b).count();
    let span = (data.len() - common) as u64 + 1;
    let cut = common + usize::try_from(r % span).unwrap_or(0);
    let mut out = data[..cut].to_vec();
    if synced.len() > cut {
        out.extend_from_slice(&synced[cut..]);
    }
    out
}

impl Sim {
    fn power_loss(&mut self) {
        self.generation += 1;
        self.fail_fsyncs = 0;
        let mut parents: Vec<PathBuf> = self
            .live
            .keys()
            .chain(self.durable.keys())
            .map(|p| parent_of(p))
            .collect();
        parents.sort();
        parents.dedup();
        let mut chosen = BTreeMap::new();
        for dir in parents {
            let from_live = self.rng.chance(1, 2);
            let src = if from_live { &self.live } else { &self.durable };
            for (p, n) in children(src, &dir) {
                chosen.insert(p.clone(), *n);
            }
        }
        // Entries under a directory that did not survive go with it (parents sort first).
        let mut namespace: BTreeMap<PathBuf, Node> = BTreeMap::new();
        for (p, n) in chosen {
            let dir = parent_of(&p);
            if dir == Path::new("/") || namespace.get(&dir) == Some(&Node::Dir) {
                namespace.insert(p, n);
            }
        }
        // Sorted: the outcome must depend on the seed only, not on hash order.
        let mut inodes: Vec<u64> = self.inodes.keys().copied().collect();
        inodes.sort_unstable();
        for id in inodes {
            let cut = self.rng.below(3);
            let r = self.rng.next_u64();
            let inode = self.inodes.get_mut(&id).expect("listed above");
            let kept = if inode.lost || cut == 0 {
                inode.synced.clone()
            } else if cut == 1 {
                inode.data.clone()
            } else {
                torn(&inode.synced, &inode.data, r)
            };
            inode.data.clone_from(&kept);
            inode.synced = kept;
            inode.lost = false;
        }
        let reachable: std::collections::HashSet<u64> = namespace
            .values()
            .filter_map(|n| match n {
                Node::File(id) => Some(*id),
                Node::Dir => None,
            })
            .collect();
        self.inodes.retain(|id, _| reachable.contains(id));
        self.live.clone_from(&namespace);
        self.durable = namespace;
    }

    /// Counts a mutating call toward a scheduled power loss; fails when the power is out.
    fn tick(&mut self) -> io::Result<()> {
        if !self.down {
            match self.crash_in {
                Some(0) => {
                    self.power_loss();
                    self.down = true;
                }
                Some(n) => self.crash_in = Some(n - 1),
                None => {}
            }
        }
        if self.down {
            return Err(err(io::ErrorKind::Other, "simulated power loss"));
        }
        Ok(())
    }

    /// Fails when the power is out (reads and lookups do not count toward a power loss).
    fn alive(&self) -> io::Result<()> {
        if self.down {
            return Err(err(io::ErrorKind::Other, "simulated power loss"));
        }
        Ok(())
    }

    fn used(&self) -> u64 {
        self.live
            .values()
            .filter_map(|n| match n {
                Node::File(id) => self.inodes.get(id).map(|i| i.data.len() as u64),
                Node::Dir => None,
            })
            .sum()
    }

    fn parent_is_dir(&self, p: &Path) -> bool {
        let dir = parent_of(p);
        dir == Path::new("/") || self.live.get(&dir) == Some(&Node::Dir)
    }
}

impl SimFile {
    fn with<R>(&self, f: impl FnOnce(&mut Sim) -> io::Result<R>) -> io::Result<R> {
        let mut sim = self.sim.lock();
        if sim.generation != self.generation {
            return Err(err(
                io::ErrorKind::Other,
                "handle from before a simulated crash",
            ));
        }
        f(&mut sim)
    }
}

impl FileHandle for SimFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.with(|sim| {
            sim.alive()?;
            let data = &sim
                .inodes
                .get(&self.inode)
                .ok_or_else(|| err(io::ErrorKind::NotFound, "inode"))?
                .data;
            let start = usize::try_from(pos).map_err(io::Error::other)?;
            let src = data
                .get(start..start + buf.len())
                .ok_or_else(|| err(io::ErrorKind::UnexpectedEof, "short read"))?;
            buf.copy_from_slice(src);
            Ok(())
        })
    }

    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        if !self.writable {
            return Err(err(io::ErrorKind::PermissionDenied, "read-only handle"));
        }
        self.with(|sim| {
            sim.tick()?;
            let start = usize::try_from(pos).map_err(io::Error::other)?;
            let len = sim.inodes.get(&self.inode).map_or(0, |i| i.data.len());
            let growth = (start + buf.len()).saturating_sub(len) as u64;
            let room = sim
                .space_limit
                .map_or(u64::MAX, |l| l.saturating_sub(sim.used()));
            // A full disk still takes what fits: the caller must clean up a partial write.
            let fits = if growth > room {
                (buf.len() as u64 - (growth - room)) as usize
            } else {
                buf.len()
            };
            let inode = sim.inodes.entry(self.inode).or_default();
            if inode.data.len() < start + fits {
                inode.data.resize(start + fits, 0);
            }
            inode.data[start..start + fits].copy_from_slice(&buf[..fits]);
            if fits < buf.len() {
                return Err(err(io::ErrorKind::StorageFull, "simulated disk full"));
            }
            Ok(())
        })
    }

    fn size(&self) -> io::Result<u64> {
        self.with(|sim| {
            sim.alive()?;
            Ok(sim
                .inodes
                .get(&self.inode)
                .map_or(0, |i| i.data.len() as u64))
        })
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.with(|sim| {
            sim.tick()?;
            let len = usize::try_from(len).map_err(io::Error::other)?;
            sim.inodes
                .entry(self.inode)
                .or_default()
                .data
                .resize(len, 0);
            Ok(())
        })
    }

    fn sync_data(&self) -> io::Result<()> {
        self.with(|sim| {
            sim.tick()?;
            sim.fsyncs += 1;
            let fail = sim.fail_fsyncs > 0;
            sim.fail_fsyncs = sim.fail_fsyncs.saturating_sub(1);
            let inode = sim.inodes.entry(self.inode).or_default();
            if fail {
                inode.lost = true;
                return Err(err(io::ErrorKind::Other, "simulated EIO"));
            }
            if !inode.lost {
                inode.synced.clone_from(&inode.data);
            }
            Ok(())
        })
    }
}

impl Filesystem for SimFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FileRef> {
        let mut sim = self.0.lock();
        if mode == OpenMode::CreateTruncate {
            sim.tick()?;
        } else {
            sim.alive()?;
        }
        let inode = match (sim.live.get(path), mode) {
            (Some(Node::Dir), _) => return Err(err(io::ErrorKind::IsADirectory, "is a directory")),
            (Some(Node::File(id)), OpenMode::CreateTruncate) => {
                let id = *id;
                sim.inodes.entry(id).or_default().data.clear();
                id
            }
            (Some(Node::File(id)), _) => *id,
            (None, OpenMode::CreateTruncate) => {
                if !sim.parent_is_dir(path) {
                    return Err(err(io::ErrorKind::NotFound, "no parent directory"));
                }
                let id = sim.next_inode;
                sim.next_inode += 1;
                sim.inodes.insert(id, Inode::default());
                sim.live.insert(path.to_path_buf(), Node::File(id));
                id
            }
            (None, _) => return Err(err(io::ErrorKind::NotFound, "no such file")),
        };
        Ok(Arc::new(SimFile {
            sim: Arc::clone(&self.0),
            inode,
            generation: sim.generation,
            writable: mode != OpenMode::Read,
        }))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let sim = self.0.lock();
        sim.alive()?;
        if path != Path::new("/") && sim.live.get(path) != Some(&Node::Dir) {
            return Err(err(io::ErrorKind::NotFound, "no such directory"));
        }
        Ok(children(&sim.live, path)
            .filter_map(|(p, n)| {
                let name = p.file_name()?.to_str()?.to_owned();
                Some(DirEntry {
                    name,
                    is_dir: *n == Node::Dir,
                })
            })
            .collect())
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.0.lock();
        sim.tick()?;
        if path == Path::new("/") || sim.live.contains_key(path) {
            return Err(err(io::ErrorKind::AlreadyExists, "exists"));
        }
        if !sim.parent_is_dir(path) {
            return Err(err(io::ErrorKind::NotFound, "no parent directory"));
        }
        sim.live.insert(path.to_path_buf(), Node::Dir);
        Ok(())
    }

    fn is_dir(&self, path: &Path) -> bool {
        path == Path::new("/") || self.0.lock().live.get(path) == Some(&Node::Dir)
    }

    fn exists(&self, path: &Path) -> bool {
        path == Path::new("/") || self.0.lock().live.contains_key(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut sim = self.0.lock();
        sim.tick()?;
        let node = *sim
            .live
            .get(from)
            .ok_or_else(|| err(io::ErrorKind::NotFound, "no such file"))?;
        if !sim.parent_is_dir(to) || sim.live.get(to) == Some(&Node::Dir) {
            return Err(err(io::ErrorKind::Other, "bad rename target"));
        }
        sim.live.remove(from);
        sim.live.insert(to.to_path_buf(), node);
        // A directory's entries belong to it, not to its name: its whole subtree moves, in
        // both views (only the entry in the parent waits for the parent's fsync).
        let sim = &mut *sim;
        for view in [&mut sim.live, &mut sim.durable] {
            let under = paths(descendants(view, from));
            for p in under {
                if let (Some(n), Ok(rel)) = (view.remove(&p), p.strip_prefix(from)) {
                    view.insert(to.join(rel), n);
                }
            }
        }
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.0.lock();
        sim.tick()?;
        match sim.live.get(path) {
            Some(Node::File(_)) => {
                sim.live.remove(path);
                Ok(())
            }
            Some(Node::Dir) => Err(err(io::ErrorKind::IsADirectory, "is a directory")),
            None => Err(err(io::ErrorKind::NotFound, "no such file")),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.0.lock();
        sim.tick()?;
        if sim.live.get(path) != Some(&Node::Dir) {
            return Err(err(io::ErrorKind::NotFound, "no such directory"));
        }
        let under = paths(descendants(&sim.live, path));
        remove_all(&mut sim.live, under);
        sim.live.remove(path);
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let mut sim = self.0.lock();
        sim.tick()?;
        if path != Path::new("/") && sim.live.get(path) != Some(&Node::Dir) {
            return Err(err(io::ErrorKind::NotFound, "no such directory"));
        }
        let gone = paths(children(&sim.durable, path));
        remove_all(&mut sim.durable, gone);
        let now: Vec<(PathBuf, Node)> = children(&sim.live, path)
            .map(|(p, n)| (p.clone(), *n))
            .collect();
        sim.durable.extend(now);
        Ok(())
    }
}
