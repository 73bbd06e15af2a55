//! Filesystem builders of the synthetic kernel: superblocks, inodes, dentries, mounts, paths,
//! open files, pseudo filesystems (pipes, anonymous inodes, shmem) and sockets (inet, unix).

use podmortem::engine::kernel::memory::KernelMemory;

use super::consts::{S_IFDIR, S_IFIFO, S_IFREG, S_IFSOCK};
use super::memory::SynthKernel;

/// A mount: its `struct mount` and the `struct vfsmount` inside.
#[derive(Debug, Clone, Copy)]
pub struct Mnt {
    /// `struct mount *`.
    pub mount: u64,
    /// `struct vfsmount *` (inside the mount).
    pub vfsmount: u64,
}

impl SynthKernel {
    /// A superblock of filesystem type `fstype` and device `dev` (kernel dev_t).
    pub fn add_sb(&mut self, fstype: &str, dev: u64) -> u64 {
        let ty = self.alloc_struct("file_system_type");
        let name = self.string(fstype.as_bytes());
        self.set(ty, "file_system_type", "name", name);
        let sb = self.alloc_struct("super_block");
        self.set(sb, "super_block", "s_type", ty);
        self.set(sb, "super_block", "s_dev", dev);
        sb
    }

    /// An inode.
    pub fn add_inode(&mut self, sb: u64, mode: u64, ino: u64) -> u64 {
        let i = self.alloc_struct("inode");
        self.init_inode(i, sb, mode, ino);
        i
    }

    fn init_inode(&mut self, i: u64, sb: u64, mode: u64, ino: u64) {
        self.set(i, "inode", "i_sb", sb);
        self.set(i, "inode", "i_mode", mode);
        self.set(i, "inode", "i_ino", ino);
        self.set(i, "inode", "i_nlink", 1);
    }

    /// A hashed dentry named `name` under `parent` (`None`: a root, its own parent).
    pub fn add_dentry(
        &mut self,
        parent: Option<u64>,
        name: &str,
        inode: u64,
        sb: u64,
        d_op: u64,
    ) -> u64 {
        let d = self.alloc_struct("dentry");
        self.set(d, "dentry", "d_parent", parent.unwrap_or(d));
        let qstr = d + self.off("dentry", "d_name");
        let n = self.string(name.as_bytes());
        self.set(qstr, "qstr", "name", n);
        self.set(qstr, "qstr", "len", name.len() as u64);
        self.set(d, "dentry", "d_inode", inode);
        self.set(d, "dentry", "d_sb", sb);
        self.set(d, "dentry", "d_op", d_op);
        if parent.is_some() {
            let hash = d + self.off("dentry", "d_hash");
            self.set(hash, "hlist_bl_node", "pprev", 0xffff_8880_dead_0000);
        }
        d
    }

    /// Marks a dentry unlinked (unhashed), as `d_delete` leaves an open, unlinked file.
    pub fn unlink(&mut self, dentry: u64) {
        let hash = dentry + self.off("dentry", "d_hash");
        self.set(hash, "hlist_bl_node", "pprev", 0);
        let inode = self.read_field_u64(dentry, "dentry", "d_inode").unwrap();
        self.set(inode, "inode", "i_nlink", 0);
    }

    /// A mount of `root_dentry` on `mountpoint` of `parent` (`None`: the top mount).
    pub fn add_mount(
        &mut self,
        parent: Option<&Mnt>,
        mountpoint: u64,
        root_dentry: u64,
        sb: u64,
    ) -> Mnt {
        let m = self.alloc_struct("mount");
        let v = m + self.off("mount", "mnt");
        self.set(m, "mount", "mnt_parent", parent.map_or(m, |p| p.mount));
        self.set(
            m,
            "mount",
            "mnt_mountpoint",
            if parent.is_some() {
                mountpoint
            } else {
                root_dentry
            },
        );
        self.set(v, "vfsmount", "mnt_root", root_dentry);
        self.set(v, "vfsmount", "mnt_sb", sb);
        Mnt {
            mount: m,
            vfsmount: v,
        }
    }

    /// The dentry of `components` below `from` (directories made as needed); the last one gets
    /// `mode` and `ino`.
    pub fn add_path(
        &mut self,
        from: u64,
        sb: u64,
        components: &[&str],
        mode: u64,
        ino: u64,
    ) -> u64 {
        let mut d = from;
        for (i, c) in components.iter().enumerate() {
            let last = i + 1 == components.len();
            if !last && let Some(x) = self.dentries.get(&(d, (*c).to_string())) {
                d = *x;
                continue;
            }
            let (m, n) = if last {
                (mode, ino)
            } else {
                (S_IFDIR | 0o755, 1000 + self.dentries.len() as u64)
            };
            let inode = self.add_inode(sb, m, n);
            let nd = self.add_dentry(Some(d), c, inode, sb, 0);
            self.dentries.insert((d, (*c).to_string()), nd);
            d = nd;
        }
        d
    }

    /// A `struct file` open on (mnt, dentry).
    pub fn file_at(&mut self, mnt: &Mnt, dentry: u64, flags: u64, pos: u64) -> u64 {
        let f = self.alloc_struct("file");
        let p = f + self.off("file", "f_path");
        self.set(p, "path", "mnt", mnt.vfsmount);
        self.set(p, "path", "dentry", dentry);
        let inode = self.read_field_u64(dentry, "dentry", "d_inode").unwrap();
        self.set(f, "file", "f_inode", inode);
        self.set(f, "file", "f_flags", flags);
        self.set(f, "file", "f_pos", pos);
        f
    }

    /// A file at `/components...` on the root filesystem.
    pub fn add_file(&mut self, components: &[&str], mode: u64, ino: u64) -> u64 {
        let d = self.add_path(self.root_dentry, self.root_sb, components, mode, ino);
        let m = self.root_mnt;
        self.file_at(&m, d, 0o100002, 0)
    }

    /// The (mount, root dentry, dentry_operations) of a pseudo filesystem.
    fn pseudo_fs(&mut self, fstype: &'static str, dname: &str) -> (Mnt, u64, u64) {
        if let Some(x) = self.pseudo.get(fstype) {
            return *x;
        }
        let sb = self.add_sb(fstype, 8);
        let ops = self.alloc_struct("dentry_operations");
        let f = self.sym(dname);
        self.set(ops, "dentry_operations", "d_dname", f);
        let inode = self.add_inode(sb, S_IFDIR, 1);
        let root = self.add_dentry(None, "/", inode, sb, ops);
        let m = self.add_mount(None, 0, root, sb);
        self.pseudo.insert(fstype, (m, root, ops));
        (m, root, ops)
    }

    /// A pipe end (`pipe:[ino]`).
    pub fn add_pipe(&mut self, ino: u64) -> u64 {
        let (m, root, ops) = self.pseudo_fs("pipefs", "pipefs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, S_IFIFO | 0o600, ino);
        let d = self.add_dentry(Some(root), "", inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// An anonymous-inode file such as `[eventfd]`.
    pub fn add_anon(&mut self, name: &str) -> u64 {
        let (m, root, ops) = self.pseudo_fs("anon_inodefs", "anon_inodefs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, 0o600, 1);
        let d = self.add_dentry(Some(root), name, inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// An internal shmem file (`/dev/zero (deleted)` for shared anonymous memory).
    pub fn add_shmem(&mut self, name: &str, ino: u64) -> u64 {
        let (m, root, ops) = self.pseudo_fs("tmpfs", "simple_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let inode = self.add_inode(sb, S_IFREG | 0o777, ino);
        let d = self.add_dentry(Some(root), name, inode, sb, ops);
        self.file_at(&m, d, 0, 0)
    }

    /// A socket file; returns (file, struct sock *). `sk_at` places the sock inside a larger
    /// struct (unix_sock) at that offset.
    fn add_socket_file(
        &mut self,
        ino: u64,
        family: u64,
        ty: u64,
        proto: u64,
        state: u64,
        outer: Option<(&str, &str)>,
    ) -> (u64, u64) {
        let (m, root, ops) = self.pseudo_fs("sockfs", "sockfs_dname");
        let sb = self.read_field_u64(root, "dentry", "d_sb").unwrap();
        let alloc = self.alloc_struct("socket_alloc");
        let inode = alloc + self.off("socket_alloc", "vfs_inode");
        self.init_inode(inode, sb, S_IFSOCK | 0o777, ino);
        let socket = alloc + self.off("socket_alloc", "socket");
        self.set(socket, "socket", "type", ty);
        let sk = match outer {
            Some((s, f)) => self.alloc_struct(s) + self.off(s, f),
            None => self.alloc_struct("sock"),
        };
        self.set(socket, "socket", "sk", sk);
        self.set(sk, "sock", "sk_socket", socket);
        self.set(sk, "sock", "sk_type", ty);
        self.set(sk, "sock", "sk_protocol", proto);
        let c = sk + self.off("sock", "__sk_common");
        self.set(c, "sock_common", "skc_family", family);
        self.set(c, "sock_common", "skc_state", state);
        let d = self.add_dentry(Some(root), "", inode, sb, ops);
        (self.file_at(&m, d, 0o2, 0), sk)
    }

    /// A TCP (or UDP) socket: `src`/`dst` are 4 or 16 address bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn add_inet_socket(
        &mut self,
        ino: u64,
        proto: u64,
        state: u64,
        src: &[u8],
        sport: u16,
        dst: &[u8],
        dport: u16,
    ) -> u64 {
        let v6 = src.len() == 16;
        let ty = if proto == 17 { 2 } else { 1 };
        let (f, sk) = self.add_socket_file(ino, if v6 { 10 } else { 2 }, ty, proto, state, None);
        let c = sk + self.off("sock", "__sk_common");
        if v6 {
            let a = c + self.off("sock_common", "skc_v6_rcv_saddr");
            self.write(a, src);
            let a = c + self.off("sock_common", "skc_v6_daddr");
            self.write(a, dst);
        } else {
            let a = c + self.off("sock_common", "skc_rcv_saddr");
            self.write(a, src);
            let a = c + self.off("sock_common", "skc_daddr");
            self.write(a, dst);
        }
        self.set(c, "sock_common", "skc_num", u64::from(sport));
        let a = c + self.off("sock_common", "skc_dport");
        self.write(a, &dport.to_be_bytes());
        f
    }

    /// A unix socket bound to `name` (empty: unbound); returns (file, sock).
    pub fn add_unix_socket(&mut self, ino: u64, ty: u64, state: u64, name: &[u8]) -> (u64, u64) {
        let (f, sk) = self.add_socket_file(ino, 1, ty, 0, state, Some(("unix_sock", "sk")));
        let us = sk - self.off("unix_sock", "sk");
        if !name.is_empty() {
            let path_off = self.off("sockaddr_un", "sun_path");
            let a = self.alloc(0x100, 8);
            self.set(
                a,
                "unix_address",
                "len",
                path_off + name.len() as u64 + u64::from(name[0] != 0),
            );
            let sun = a + self.off("unix_address", "name");
            self.set(sun, "sockaddr_un", "sun_family", 1);
            self.write(sun + path_off, name);
            self.set(us, "unix_sock", "addr", a);
        }
        (f, sk)
    }

    /// Connects two unix socks (`peer` pointers).
    pub fn connect_unix(&mut self, a: u64, b: u64) {
        let us_a = a - self.off("unix_sock", "sk");
        let us_b = b - self.off("unix_sock", "sk");
        self.set(us_a, "unix_sock", "peer", b);
        self.set(us_b, "unix_sock", "peer", a);
    }
}
