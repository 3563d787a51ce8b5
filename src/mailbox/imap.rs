//! The IMAP side: connecting (implicit TLS, STARTTLS, or plain to a local server), folders
//! (names in modified UTF-7, created when missing), fetching one message, moving one message
//! (MOVE when offered, else COPY, \Deleted and UID EXPUNGE). The protocol is async-imap's.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::Context;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::config::{ImapTls, MailboxSettings};

/// Any byte stream an IMAP session runs over (TCP, or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Io for T {}

pub type Session = async_imap::Session<Box<dyn Io>>;

/// How long connecting, and the TLS handshake, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

fn tls_connector(m: &MailboxSettings) -> anyhow::Result<async_native_tls::TlsConnector> {
    let mut connector = async_native_tls::TlsConnector::new();
    if let Some(ca) = &m.ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("ca_file {}", ca.display()))?;
        let cert = async_native_tls::Certificate::from_pem(&pem)
            .with_context(|| format!("ca_file {} : certificat PEM illisible", ca.display()))?;
        connector = connector.add_root_certificate(cert);
    }
    Ok(connector)
}

/// Connects and logs in.
pub async fn connect(m: &MailboxSettings) -> anyhow::Result<Session> {
    let work = async {
        let tcp = TcpStream::connect((m.host.as_str(), m.port))
            .await
            .with_context(|| format!("connexion à {}:{}", m.host, m.port))?;
        let stream: Box<dyn Io> = match m.tls {
            ImapTls::Implicit => {
                let tls = tls_connector(m)?
                    .connect(m.host.as_str(), tcp)
                    .await
                    .context("TLS")?;
                Box::new(tls)
            }
            ImapTls::None => Box::new(tcp),
            ImapTls::Starttls => {
                let mut client = async_imap::Client::new(Box::new(tcp) as Box<dyn Io>);
                client
                    .read_response()
                    .await?
                    .context("le serveur a fermé la connexion")?;
                client
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .context("STARTTLS")?;
                let plain = client.into_inner();
                let tls = tls_connector(m)?
                    .connect(m.host.as_str(), plain)
                    .await
                    .context("TLS")?;
                let client = async_imap::Client::new(Box::new(tls) as Box<dyn Io>);
                return login(client, m).await;
            }
        };
        let mut client = async_imap::Client::new(stream);
        client
            .read_response()
            .await?
            .context("le serveur a fermé la connexion")?;
        login(client, m).await
    };
    tokio::time::timeout(CONNECT_TIMEOUT, work)
        .await
        .context("délai de connexion dépassé")?
}

async fn login(
    client: async_imap::Client<Box<dyn Io>>,
    m: &MailboxSettings,
) -> anyhow::Result<Session> {
    client
        .login(&m.user, super::password(m))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("connexion refusée : {e}"))
}

/// Creates `folder` unless it exists.
pub async fn ensure_folder(session: &mut Session, folder: &str) -> anyhow::Result<()> {
    let name = mutf7(folder);
    // Every folder, compared by name: a pattern with a space is not read alike by all servers.
    let exists = {
        let list: Vec<_> = session
            .list(Some(""), Some("*"))
            .await?
            .try_collect()
            .await?;
        list.iter().any(|n| n.name() == name)
    };
    if !exists {
        match session.create(&name).await {
            Ok(()) => {}
            // Created meanwhile (another instance), or listed differently: it is there.
            Err(e) if e.to_string().contains("ALREADYEXISTS") => {}
            Err(e) => {
                return Err(anyhow::Error::from(e))
                    .with_context(|| format!("création du dossier « {folder} »"))
            }
        }
    }
    Ok(())
}

/// The whole message (without setting \Seen); None when it is gone.
pub async fn fetch_body(session: &mut Session, uid: u32) -> anyhow::Result<Option<Vec<u8>>> {
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "BODY.PEEK[]")
        .await?
        .try_collect()
        .await?;
    Ok(fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec))
}

/// Moves messages to `folder` in one command: UID MOVE when offered, else UID COPY, \Deleted
/// and UID EXPUNGE of those messages only (RFC 4315).
pub async fn move_messages(
    session: &mut Session,
    uids: &[u32],
    folder: &str,
    can_move: bool,
) -> anyhow::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let name = mutf7(folder);
    let uid = uids
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if can_move {
        session.uid_mv(&uid, &name).await?;
    } else {
        session.uid_copy(&uid, &name).await?;
        let _: Vec<_> = session
            .uid_store(&uid, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect()
            .await?;
        let _: Vec<_> = session.uid_expunge(&uid).await?.try_collect().await?;
    }
    Ok(())
}

/// A folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): « Traité » → « Trait&AOk- ».
pub fn mutf7(name: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(out: &mut String, pending: &mut Vec<u16>) {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    }
    let mut out = String::with_capacity(name.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

#[cfg(test)]
mod tests {
    use super::mutf7;

    #[test]
    fn folder_names_in_modified_utf7() {
        assert_eq!(mutf7("INBOX"), "INBOX");
        assert_eq!(mutf7("Traité"), "Trait&AOk-");
        assert_eq!(mutf7("Non reconnu"), "Non reconnu");
        assert_eq!(mutf7("A&B"), "A&-B");
        // RFC 3501's own example.
        assert_eq!(
            mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }
}
