//! A real `redis-server` for tests: on 127.0.0.1 and a free port, without
//! persistence, in a temporary directory, killed when dropped.
//! `scripts/test.sh` installs `redis-server` when it is missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port. Panics, naming the binary, when
    /// `redis-server` is not on `PATH`.
    pub fn start() -> Self {
        // A port found free may be taken before the server binds it: try a
        // few.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(free_port()) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("could not start redis-server: {last}");
    }

    /// Starts a server on `port` (a restart after [`RedisServer::kill`]).
    pub fn start_on(port: u16) -> Self {
        Self::try_start(port).unwrap_or_else(|e| panic!("could not start redis-server: {e}"))
    }

    fn try_start(port: u16) -> Result<Self, String> {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ttlab-redis-{}-{port}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                assert!(
                    e.kind() != std::io::ErrorKind::NotFound,
                    "redis-server is not on PATH: the Redis store's tests need it \
                     (scripts/test.sh installs it; or apt-get install redis-server)"
                );
                format!("spawning redis-server: {e}")
            })?;
        let mut server = RedisServer {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ping(port) {
                return Ok(server);
            }
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("redis-server on port {port} exited: {status}"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server on port {port} silent for {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(crate::wait::POLL);
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// How many keys the server holds (`DBSIZE`), over a plain socket.
    pub fn dbsize(&self) -> u64 {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("redis-server answers");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"DBSIZE\r\n").unwrap();
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with(b"\r\n") {
            s.read_exact(&mut byte).expect("a DBSIZE reply");
            reply.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&reply);
        text.trim()
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("DBSIZE answered {text:?}"))
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills it at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (`-STOP`, `-CONT`) to it: a stopped server keeps its
    /// connections open and answers nothing, like a hung one.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().expect("server running");
        let ok = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {pid}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // A stopped server does not die of SIGKILL any slower, but make
            // sure it is not left stopped if kill fails.
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Whether a server on `port` answers `PING` with `+PONG`.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}
