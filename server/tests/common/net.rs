//! Machines in network namespaces (the nemesis's nodes, the deployment
//! guide's machines): one namespace each, with a veth pair on one bridge
//! (the host is on it too); mesh packets filtered with nftables inside the
//! namespaces.

use std::process::Command;

pub fn run(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
}

/// The namespaces, their veth pairs and the bridge; gone when dropped.
pub struct Net {
    tag: String,
    subnet: u32,
    pub n: usize,
}

impl Net {
    /// `None` where this cannot be done (not root, no `ip` or `nft`).
    pub fn up(n: usize) -> Option<Net> {
        let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        if !root || !run(Command::new("nft").arg("--version")) || !run(Command::new("ip").arg("-V")) {
            return None;
        }
        let pid = std::process::id();
        let net = Net { tag: format!("mcn{}", pid % 100_000), subnet: pid % 250, n };
        let bridge = format!("{}b", net.tag);
        let ok = run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]))
            && run(Command::new("ip").args(["addr", "add", &format!("{}/24", net.addr(253)), "dev", &bridge]))
            && run(Command::new("ip").args(["link", "set", &bridge, "up"]));
        if !ok {
            return None;
        }
        (0..n).all(|i| net.namespace(i)).then_some(net)
    }

    /// Node `i`'s namespace: its end of a veth pair, an address, and an
    /// empty nftables chain for the faults.
    fn namespace(&self, i: usize) -> bool {
        let (ns, veth) = (self.ns(i), format!("{}v{i}", self.tag));
        let chain = "{ type filter hook input priority 0; policy accept; }";
        run(Command::new("ip").args(["netns", "add", &ns]))
            && run(Command::new("ip").args(["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns]))
            && run(Command::new("ip").args(["link", "set", &veth, "master", &format!("{}b", self.tag), "up"]))
            && run(&mut self.exec(i, &["ip", "addr", "add", &format!("{}/24", self.addr(i)), "dev", "eth0"]))
            && run(&mut self.exec(i, &["ip", "link", "set", "eth0", "up"]))
            && run(&mut self.exec(i, &["ip", "link", "set", "lo", "up"]))
            && run(&mut self.exec(i, &["nft", "add", "table", "inet", "nemesis"]))
            && run(&mut self.exec(i, &["nft", "add", "chain", "inet", "nemesis", "input", chain]))
    }

    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    pub fn addr(&self, host: usize) -> String {
        format!("10.79.{}.{}", self.subnet, host + 1)
    }

    pub fn exec(&self, i: usize, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(i)]).args(args);
        c
    }

    /// Node `i` drops the mesh (UDP) packets `rule` matches; HTTP from the
    /// test stays open, as clients on the other side of a partition would.
    pub fn drop_udp(&self, i: usize, rule: &str) {
        let mut args = vec!["nft", "add", "rule", "inet", "nemesis", "input"];
        args.extend(rule.split_whitespace());
        args.extend(["meta", "l4proto", "udp", "drop"]);
        assert!(run(&mut self.exec(i, &args)), "nft: {args:?}");
    }

    pub fn cut(&self, from: usize, to: usize) {
        self.drop_udp(to, &format!("ip saddr {}", self.addr(from)));
    }

    /// No packet between the two groups, either way.
    pub fn split(&self, a: &[usize], b: &[usize]) {
        for &x in a {
            for &y in b {
                self.cut(x, y);
                self.cut(y, x);
            }
        }
    }

    pub fn heal(&self) {
        for i in 0..self.n {
            run(&mut self.exec(i, &["nft", "flush", "chain", "inet", "nemesis", "input"]));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.n {
            run(Command::new("ip").args(["netns", "del", &self.ns(i)]));
        }
        run(Command::new("ip").args(["link", "del", &format!("{}b", self.tag)]));
    }
}
