//! A real IMAP server for the mailbox tests: Debian's Dovecot (`dovecot-imapd`), started as an
//! ordinary process with its own configuration, listening on 127.0.0.1 on a free port, with a
//! Maildir, its state and its sockets in a temporary directory (no system service). Messages
//! are delivered by IMAP APPEND; folders are counted on disk.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;

use crate::helpers::TempDir;

pub const USER: &str = "rebonds@vocation.test";
pub const PASSWORD: &str = "mot-de-passe-de-test";
const DOVECOT: &str = "/usr/sbin/dovecot";

pub struct TestImap {
    pub port: u16,
    /// The implicit-TLS port, and the certificate authority to trust, when started with TLS.
    pub tls: Option<(u16, PathBuf)>,
    dir: TempDir,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uid and gid mail is stored under: Dovecot's own user when we are root (Dovecot refuses
/// to give mail to root), else ours.
fn mail_owner() -> (u32, u32, bool) {
    let out = Command::new("id").arg("-u").output().unwrap();
    let me: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    if me != 0 {
        let out = Command::new("id").arg("-g").output().unwrap();
        let group: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        return (me, group, false);
    }
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "dovecot"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("dovecot user")
    };
    (id("-u"), id("-g"), true)
}

impl TestImap {
    pub fn start() -> TestImap {
        Self::start_with(false)
    }

    /// Dovecot with TLS too: a self-signed certificate for localhost made with `openssl req`,
    /// STARTTLS on the plain port and implicit TLS on a second one.
    pub fn start_tls() -> TestImap {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> TestImap {
        assert!(
            Path::new(DOVECOT).exists(),
            "{DOVECOT} is missing: apt-get install dovecot-imapd (.ci/run does)"
        );
        let dir = TempDir::new();
        let d = dir.0.display().to_string();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(dir.0.join(sub)).unwrap();
        }
        std::fs::write(
            dir.0.join("passwd"),
            format!("{USER}:{{PLAIN}}{PASSWORD}::::::\n"),
        )
        .unwrap();
        let (uid, gid, root) = mail_owner();
        if root {
            Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}"), &format!("{d}/mail")])
                .status()
                .unwrap();
            Command::new("chmod").args(["755", &d]).status().unwrap();
        }
        let port = free_port();
        let users = if root {
            String::new()
        } else {
            // Not root: every process runs as us.
            let me = std::env::var("USER").unwrap_or_else(|_| "nobody".into());
            format!("default_internal_user = {me}\ndefault_login_user = {me}\n")
        };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n\
             auth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%n\n\
             first_valid_uid = 1\n{users}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/mail/%n\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        );
        let (conf, tls) = if tls {
            let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
            let made = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args(["-subj", "/CN=localhost"])
                .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(made.success(), "openssl req failed");
            let tls_port = free_port();
            let conf = conf
                .replace("ssl = no\n", "ssl = yes\n")
                .replace(
                    "inet_listener imaps {\n    port = 0\n  }",
                    &format!(
                        "inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n    ssl = yes\n  }}"
                    ),
                );
            let conf = format!(
                "{conf}ssl_cert = <{}\nssl_key = <{}\n",
                cert.display(),
                key.display()
            );
            (conf, Some((tls_port, cert)))
        } else {
            (conf, None)
        };
        std::fs::write(dir.0.join("dovecot.conf"), conf).unwrap();
        let mut imap = TestImap {
            port,
            tls,
            dir,
            child: None,
        };
        imap.restart();
        imap
    }

    fn conf(&self) -> PathBuf {
        self.dir.0.join("dovecot.conf")
    }

    /// Starts Dovecot again (after [`TestImap::stop`]) on the same port and Maildir.
    pub fn restart(&mut self) {
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "dovecot did not listen: {}",
                std::fs::read_to_string(self.dir.0.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops Dovecot (SIGTERM to its master, which ends every connection and its own
    /// processes): the server goes away under the reader's feet.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = child.wait();
        }
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The mailbox settings a reader of this server uses.
    pub fn mailbox(&self) -> vocation::config::MailboxSettings {
        vocation::config::MailboxSettings {
            name: format!("test-{}", self.port),
            host: "127.0.0.1".into(),
            port: self.port,
            tls: vocation::config::ImapTls::None,
            user: USER.into(),
            password: secrecy::SecretString::from(PASSWORD.to_owned()),
            folder: "INBOX".into(),
            processed_folder: "Traité".into(),
            unrecognised_folder: "Non reconnu".into(),
            ca_file: None,
        }
    }

    async fn session(&self) -> vocation::mailbox::imap::Session {
        vocation::mailbox::imap::connect(&self.mailbox())
            .await
            .expect("IMAP login")
    }

    /// Delivers messages into INBOX by IMAP APPEND.
    pub async fn append_all(&self, messages: &[Vec<u8>]) {
        let mut session = self.session().await;
        for m in messages {
            session
                .append("INBOX", None, None, m)
                .await
                .expect("APPEND");
        }
        let _ = session.logout().await;
    }

    /// Messages in a folder, counted in the Maildir (`new` and `cur`).
    pub fn count(&self, folder: &str) -> usize {
        let base = self
            .dir
            .0
            .join("mail")
            .join(USER.split('@').next().unwrap());
        let path = if folder == "INBOX" {
            base
        } else {
            base.join(format!(".{}", vocation::mailbox::imap::mutf7(folder)))
        };
        ["new", "cur"]
            .iter()
            .map(|sub| {
                std::fs::read_dir(path.join(sub))
                    .map(|entries| entries.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The raw messages of a folder, over IMAP.
    pub async fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let mut session = self.session().await;
        let selected = session
            .select(vocation::mailbox::imap::mutf7(folder))
            .await
            .expect("SELECT");
        if selected.exists == 0 {
            return Vec::new();
        }
        let fetched: Vec<_> = session
            .fetch("1:*", "BODY.PEEK[]")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let out = fetched
            .iter()
            .filter_map(|f| f.body().map(<[u8]>::to_vec))
            .collect();
        let _ = session.logout().await;
        out
    }
}

impl Drop for TestImap {
    fn drop(&mut self) {
        self.stop();
    }
}
