//! The data directory is for the node's eyes only: it holds password
//! hashes and every private message. Directories are 0700, files 0600,
//! whatever the process's umask, and a node started on a directory an
//! older version left readable makes it private again.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Files and directories this process creates from now on are its user's
/// only (umask 077): SQLite's `-wal` and `-shm`, thumbnails, anything.
pub fn restrict_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
}

/// `dir` and its missing parents, 0700; an existing `dir` made 0700.
pub fn dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    b.mode(0o700);
    b.create(dir)?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// A new file (truncated if it exists), 0600.
pub fn create(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let f = o.open(path)?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(f)
}

/// Holds `dir/lock` exclusively for as long as the file is open: one node
/// per data directory, and no restore under a running node. `None` when
/// another process holds it.
pub fn lock(dir: &Path) -> io::Result<Option<File>> {
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(dir.join("lock"))?;
    #[cfg(unix)]
    {
        use rustix::fs::{FlockOperation, flock};
        match flock(&f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(f))
}

/// Makes every file under `root` 0600 and every directory 0700.
pub fn tighten(root: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let meta = std::fs::symlink_metadata(root)?;
        if meta.is_dir() {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
            for entry in std::fs::read_dir(root)? {
                tighten(&entry?.path())?;
            }
        } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn what_an_older_version_left_readable_is_made_private() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("n1");
        std::fs::create_dir_all(data.join("files/ab")).unwrap();
        std::fs::write(data.join("meshchat.db"), b"x").unwrap();
        std::fs::write(data.join("files/ab/abcd"), b"y").unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        tighten(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("files/ab")), 0o700);
        assert_eq!(mode(&data.join("meshchat.db")), 0o600);
        assert_eq!(mode(&data.join("files/ab/abcd")), 0o600);
        assert_eq!(
            mode(&{
                let p = data.join("new");
                create(&p).unwrap();
                p
            }),
            0o600
        );
    }
}
