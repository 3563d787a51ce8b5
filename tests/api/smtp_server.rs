//! A programmable, in-process SMTP server for the tests: hand-written SMTP (a subset of
//! RFC 5321 with PIPELINING, 8BITMIME, SMTPUTF8 and SIZE) on a plain tokio `TcpListener`.
//!
//! The server runs on its own thread with its own multi-thread tokio runtime, so it keeps
//! answering whatever runtime the test uses, even while that runtime is blocked. How it answers
//! each recipient (accept, defer, refuse, drop the connection, be slow…) can be changed at any
//! moment from the test; what it accepts is recorded, in arrival order.
//!
//! Dropping the [`SmtpServer`] stops it: the listener is closed, open connections are cut and the
//! thread is joined.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// The name the server gives itself in its greeting and EHLO reply.
const SERVER_NAME: &str = "smtp.test";
/// The largest message accepted, as advertised by `SIZE`.
const MAX_MESSAGE_SIZE: usize = 52_428_800;
/// The longest command line accepted (RFC 5321 asks for 512 at least).
const MAX_COMMAND_LINE: usize = 4096;
/// Message lines are read in pieces of at most this size, whatever their length.
const DATA_PIECE: usize = 64 * 1024;
/// The most recipients accepted in one transaction.
const MAX_RECIPIENTS: usize = 1000;
/// A client silent for this long is told 421 and disconnected (RFC 5321 §4.5.3.2).
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// After closing its side, the server reads what the client still sends for at most this long,
/// so that unread input does not make the kernel reset the connection (which can destroy the
/// last reply before the client has read it).
const LINGER: Duration = Duration::from_secs(1);
/// Pending connections the listener queues (the crash test opens many at once).
const BACKLOG: u32 = 1024;

/// How the server answers a recipient. Refusals at RCPT concern only that recipient; the
/// behaviours acting after DATA concern the whole message, and when its recipients disagree the
/// strongest wins: `DropAfterData`, then `Reject554`, then the longest `Slow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// 250 at RCPT and at the end of DATA; the message is recorded.
    Accept,
    /// 421 4.3.2 at RCPT, then close the connection (server shutting down).
    Close421,
    /// 451 4.3.0 at RCPT: temporary failure, the connection stays usable.
    Defer451,
    /// 550 5.1.1 at RCPT: the mailbox does not exist.
    UnknownMailbox,
    /// 554 5.7.1 after DATA: permanent refusal of the message.
    Reject554,
    /// Reads the whole DATA then closes the socket without any reply (the message is NOT
    /// recorded).
    DropAfterData,
    /// Waits this long before answering the end of DATA with 250 (then records it).
    Slow(Duration),
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The reverse-path of MAIL FROM, without angle brackets (empty for the null sender).
    pub mail_from: String,
    /// The accepted recipients (RCPT TO without angle brackets), as the client wrote them.
    pub rcpt_to: Vec<String>,
    /// The raw message (headers and body, CRLF line endings as sent), dot-stuffing undone and
    /// without the final "." line.
    pub data: Vec<u8>,
    /// MAIL FROM declared `BODY=8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// When the server accepted it (just before answering 250).
    pub at: Instant,
}

impl Received {
    /// The unfolded value of the first header of that name (case-insensitive), trimmed; encoded
    /// words (RFC 2047) are left as they are.
    pub fn header(&self, name: &str) -> Option<String> {
        header_value(&self.data, name)
    }

    /// The Message-ID header as written, angle brackets included (`<id@domain>`).
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
    }
}

/// A running SMTP server on `127.0.0.1:port`. See the module documentation.
pub struct SmtpServer {
    /// The loopback port the server listens on.
    pub port: u16,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SmtpServer {
    /// Starts a server that accepts everything and keeps every message it accepts.
    pub fn start() -> SmtpServer {
        SmtpServer::launch(true, 0)
    }

    /// Starts a server that keeps no message: only the count, the per-recipient counts and the
    /// Message-IDs (for tests sending tens of thousands of messages). [`SmtpServer::messages`]
    /// stays empty.
    pub fn start_counting_only() -> SmtpServer {
        SmtpServer::launch(false, 0)
    }

    /// Starts a server that accepts everything on this port (the port of a server stopped
    /// before: the same relay, back after an outage).
    pub fn start_on(port: u16) -> SmtpServer {
        SmtpServer::launch(true, port)
    }

    fn launch(keep_messages: bool, port: u16) -> SmtpServer {
        let shared = Arc::new(Shared::new(keep_messages));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("smtp-test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("smtp-test-worker")
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the SMTP server");
                runtime.block_on(async move {
                    let listener = match listen(port) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = port_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = port_tx.send(listener.local_addr().map(|a| a.port()));
                    accept_loop(listener, server_shared, stopped).await;
                });
                // Cancels the connections still open (and any `Slow` wait).
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .expect("spawning the SMTP server thread");
        let port = port_rx
            .recv()
            .expect("the SMTP server thread reports its port")
            .expect("the SMTP server listens on 127.0.0.1:0");
        SmtpServer {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How every recipient without a rule of its own is answered from now on.
    pub fn set_default(&self, b: Behaviour) {
        self.shared.rules().default = b;
    }

    /// How this recipient (case-insensitive) is answered from now on, whatever the default.
    pub fn set_for(&self, rcpt: &str, b: Behaviour) {
        self.shared.rules().per_address.insert(
            rcpt.to_lowercase(),
            Rule {
                behaviour: b,
                remaining: None,
            },
        );
    }

    /// Answers this recipient (case-insensitive) with `b` for its next `n` RCPT commands, then
    /// with `Accept` (which, like [`SmtpServer::set_for`], overrides the default).
    pub fn set_for_times(&self, rcpt: &str, b: Behaviour, n: usize) {
        self.shared.rules().per_address.insert(
            rcpt.to_lowercase(),
            Rule {
                behaviour: b,
                remaining: Some(n),
            },
        );
    }

    /// A copy of the accepted messages, in the order they were accepted (empty when counting
    /// only). For checks over many messages, [`SmtpServer::per_recipient`] is much cheaper.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.store().messages.clone()
    }

    /// How many messages were accepted.
    pub fn count(&self) -> usize {
        self.shared.store().count
    }

    /// How many accepted messages had this recipient (case-insensitive).
    pub fn count_for(&self, rcpt: &str) -> usize {
        let store = self.shared.store();
        store
            .per_recipient
            .get(&rcpt.to_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Per recipient (lower-cased) the number of accepted messages: for duplicate checks over
    /// many messages, cheap.
    pub fn per_recipient(&self) -> HashMap<String, usize> {
        self.shared.store().per_recipient.clone()
    }

    /// The Message-IDs of the accepted messages (as written, angle brackets included), in the
    /// order they were accepted; messages without one are skipped. Kept when counting only too.
    pub fn message_ids(&self) -> Vec<String> {
        self.shared.store().message_ids.clone()
    }

    /// Waits until at least `n` messages were accepted or `timeout` has passed, polling; returns
    /// the count reached.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            let now = Instant::now();
            if count >= n || now >= deadline {
                return count;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(5))).await;
        }
    }

    /// The names clients gave in EHLO/HELO, in order.
    pub fn hello_names(&self) -> Vec<String> {
        self.shared.store.lock().unwrap().hellos.clone()
    }

    /// Stops announcing PIPELINING to the EHLO commands that follow.
    pub fn without_pipelining(&self) {
        self.shared.pipelining.store(false, Ordering::SeqCst);
    }

    /// Stops announcing 8BITMIME to the EHLO commands that follow (and refuses `BODY=8BITMIME`).
    pub fn without_8bitmime(&self) {
        self.shared.eight_bit_mime.store(false, Ordering::SeqCst);
    }

    /// How many MAIL commands arrived with the following commands already behind them, in the
    /// same read: transactions the client pipelined (RFC 2920).
    pub fn pipelined_transactions(&self) -> usize {
        self.shared.pipelined.load(Ordering::SeqCst)
    }

    /// How many MAIL commands came in the same read as the end of the message before them: a
    /// content and the next envelope pipelined together (RFC 2920 lets the content lead a group).
    pub fn chained_transactions(&self) -> usize {
        self.shared.chained.load(Ordering::SeqCst)
    }

    /// How many client connections are open right now.
    pub fn connections_open(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// The most client connections that were open at the same time.
    pub fn max_connections_seen(&self) -> usize {
        self.shared.max_open.load(Ordering::SeqCst)
    }

    /// How many RCPT commands named this address (case-insensitive), whatever the answer.
    pub fn attempts_for(&self, rcpt: &str) -> usize {
        let rules = self.shared.rules();
        rules
            .attempts
            .get(&rcpt.to_lowercase())
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the test and the connections share.
struct Shared {
    keep_messages: bool,
    /// Whether EHLO announces PIPELINING.
    pipelining: AtomicBool,
    /// Whether EHLO announces 8BITMIME.
    eight_bit_mime: AtomicBool,
    /// MAIL commands read with more input already waiting behind them (a pipelined group).
    pipelined: AtomicUsize,
    /// MAIL commands that came in the same read as the end of the previous message.
    chained: AtomicUsize,
    rules: Mutex<Rules>,
    store: Mutex<Store>,
    open: AtomicUsize,
    max_open: AtomicUsize,
}

struct Rules {
    default: Behaviour,
    /// Keyed by lower-cased address.
    per_address: HashMap<String, Rule>,
    /// RCPT commands seen, keyed by lower-cased address.
    attempts: HashMap<String, usize>,
}

struct Rule {
    behaviour: Behaviour,
    /// `Some(n)`: applies `n` more times, then `Accept`.
    remaining: Option<usize>,
}

#[derive(Default)]
struct Store {
    /// The names given in EHLO/HELO, in order.
    hellos: Vec<String>,
    count: usize,
    messages: Vec<Received>,
    per_recipient: HashMap<String, usize>,
    message_ids: Vec<String>,
}

impl Shared {
    fn new(keep_messages: bool) -> Shared {
        Shared {
            keep_messages,
            pipelining: AtomicBool::new(true),
            eight_bit_mime: AtomicBool::new(true),
            pipelined: AtomicUsize::new(0),
            chained: AtomicUsize::new(0),
            rules: Mutex::new(Rules {
                default: Behaviour::Accept,
                per_address: HashMap::new(),
                attempts: HashMap::new(),
            }),
            store: Mutex::new(Store::default()),
            open: AtomicUsize::new(0),
            max_open: AtomicUsize::new(0),
        }
    }

    // A test failing while holding a lock must not make every later call panic too.
    fn rules(&self) -> MutexGuard<'_, Rules> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count_attempt(&self, address: &str) {
        *self
            .rules()
            .attempts
            .entry(address.to_lowercase())
            .or_insert(0) += 1;
    }

    /// The behaviour for one RCPT of this address, consuming one use of a limited rule.
    fn behaviour_for(&self, address: &str) -> Behaviour {
        let mut rules = self.rules();
        let default = rules.default;
        let Some(rule) = rules.per_address.get_mut(&address.to_lowercase()) else {
            return default;
        };
        match rule.remaining {
            None => rule.behaviour,
            Some(n) => {
                let behaviour = if n == 0 {
                    Behaviour::Accept
                } else {
                    rule.behaviour
                };
                if n <= 1 {
                    *rule = Rule {
                        behaviour: Behaviour::Accept,
                        remaining: None,
                    };
                } else {
                    rule.remaining = Some(n - 1);
                }
                behaviour
            }
        }
    }

    /// Records an accepted message; returns its number (from 1).
    fn record(&self, tx: Transaction, data: Vec<u8>) -> usize {
        let Transaction {
            mail_from,
            rcpt_to,
            eight_bit_mime,
            ..
        } = tx;
        let mut recipients: Vec<String> = rcpt_to.iter().map(|r| r.to_lowercase()).collect();
        let mut seen = HashSet::new();
        recipients.retain(|r| seen.insert(r.clone()));
        let message_id = header_value(&data, "Message-ID");
        let received = self.keep_messages.then(|| Received {
            mail_from,
            rcpt_to,
            data,
            eight_bit_mime,
            at: Instant::now(),
        });

        let mut store = self.store();
        store.count += 1;
        for recipient in recipients {
            *store.per_recipient.entry(recipient).or_insert(0) += 1;
        }
        if let Some(id) = message_id {
            store.message_ids.push(id);
        }
        if let Some(received) = received {
            store.messages.push(received);
        }
        store.count
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn new(shared: Arc<Shared>) -> OpenConnection {
        let now = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_open.fetch_max(now, Ordering::SeqCst);
        OpenConnection(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn listen(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], port).into())?;
    socket.listen(BACKLOG)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let connection = OpenConnection::new(shared.clone());
                    tokio::spawn(serve(stream, connection));
                }
                // Out of file descriptors, a connection reset before it was accepted…: keep
                // serving the others.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

async fn serve(stream: TcpStream, connection: OpenConnection) {
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let mut session = Session {
        shared: &connection.0,
        reader: BufReader::with_capacity(16 * 1024, read_half),
        writer: BufWriter::with_capacity(16 * 1024, write_half),
        greeted: false,
        transaction: None,
        after_data: false,
    };
    // An I/O error means the client is gone: nothing left to do.
    let _ = session.run().await;
}

/// What to do with the connection after a command.
enum Next {
    Continue,
    /// Close it cleanly (after QUIT, 421, or dropping a message).
    Close,
    /// The client is gone.
    Gone,
}

/// A mail transaction in progress (after MAIL FROM).
struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
    /// MAIL FROM declared `BODY=8BITMIME`.
    eight_bit_mime: bool,
    /// For each accepted recipient, the behaviour that acts after DATA.
    after_data: Vec<Behaviour>,
}

/// What the accepted recipients of a transaction ask for at the end of DATA.
enum Outcome {
    Accept(Duration),
    Reject,
    Drop,
}

impl Transaction {
    fn outcome(&self) -> Outcome {
        if self.after_data.contains(&Behaviour::DropAfterData) {
            return Outcome::Drop;
        }
        if self.after_data.contains(&Behaviour::Reject554) {
            return Outcome::Reject;
        }
        let delay = self
            .after_data
            .iter()
            .filter_map(|b| match b {
                Behaviour::Slow(d) => Some(*d),
                _ => None,
            })
            .max()
            .unwrap_or(Duration::ZERO);
        Outcome::Accept(delay)
    }
}

struct Session<'a> {
    shared: &'a Shared,
    reader: BufReader<OwnedReadHalf>,
    writer: BufWriter<OwnedWriteHalf>,
    greeted: bool,
    transaction: Option<Transaction>,
    /// The last command was the end of a message's data, and more input was already behind it.
    after_data: bool,
}

enum LineRead {
    Line,
    TooLong,
    Eof,
}

impl Session<'_> {
    async fn run(&mut self) -> io::Result<()> {
        self.reply(&format!("220 {SERVER_NAME} ESMTP Vocation test server"))
            .await?;
        let mut line = Vec::with_capacity(512);
        loop {
            // Replies are buffered while pipelined commands are waiting (RFC 2920), and sent
            // before waiting for more input.
            if self.reader.buffer().is_empty() {
                self.writer.flush().await?;
            }
            line.clear();
            let read = tokio::time::timeout(
                IDLE_TIMEOUT,
                read_line_limited(&mut self.reader, &mut line, MAX_COMMAND_LINE),
            )
            .await;
            let next = match read {
                Err(_) => {
                    self.reply("421 4.4.2 Idle for too long, closing connection")
                        .await?;
                    Next::Close
                }
                Ok(read) => match read? {
                    LineRead::Eof => Next::Gone,
                    LineRead::TooLong => {
                        self.reply("500 5.5.6 Line too long").await?;
                        Next::Continue
                    }
                    LineRead::Line => self.command(&line).await?,
                },
            };
            match next {
                Next::Continue => {}
                Next::Close => return self.close().await,
                Next::Gone => return Ok(()),
            }
        }
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        self.writer.write_all(text.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await
    }

    /// Sends what is pending, closes our side, then reads (and ignores) what the client still
    /// sends until it closes too, for a short while.
    async fn close(&mut self) -> io::Result<()> {
        self.writer.shutdown().await?;
        let reader = &mut self.reader;
        let _ = tokio::time::timeout(LINGER, async move {
            let mut sink = [0u8; 4096];
            while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
        Ok(())
    }

    async fn command(&mut self, line: &[u8]) -> io::Result<Next> {
        let after_data = std::mem::take(&mut self.after_data);
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, args) = match text.split_once(' ') {
            Some((verb, args)) => (verb, args.trim()),
            None => (text, ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if args.is_empty() => {
                self.reply("501 5.5.4 Syntax: EHLO hostname").await?
            }
            "EHLO" => {
                self.shared
                    .store
                    .lock()
                    .unwrap()
                    .hellos
                    .push(args.to_owned());
                self.greeted = true;
                self.transaction = None;
                self.reply(&format!("250-{SERVER_NAME} greets {args}"))
                    .await?;
                if self.shared.pipelining.load(Ordering::SeqCst) {
                    self.reply("250-PIPELINING").await?;
                }
                if self.shared.eight_bit_mime.load(Ordering::SeqCst) {
                    self.reply("250-8BITMIME").await?;
                }
                self.reply("250-SMTPUTF8").await?;
                self.reply(&format!("250 SIZE {MAX_MESSAGE_SIZE}")).await?;
            }
            "HELO" => {
                self.shared
                    .store
                    .lock()
                    .unwrap()
                    .hellos
                    .push(args.to_owned());
                self.greeted = true;
                self.transaction = None;
                self.reply(&format!("250 {SERVER_NAME}")).await?;
            }
            "MAIL" => {
                if !self.reader.buffer().is_empty() {
                    self.shared.pipelined.fetch_add(1, Ordering::SeqCst);
                }
                if after_data {
                    self.shared.chained.fetch_add(1, Ordering::SeqCst);
                }
                self.mail(args).await?
            }
            "RCPT" => return self.rcpt(args).await,
            "DATA" => return self.data(args).await,
            "RSET" => {
                self.transaction = None;
                self.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => self.reply("250 2.0.0 Ok").await?,
            "QUIT" => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(Next::Close);
            }
            "VRFY" | "EXPN" | "HELP" | "TURN" | "ETRN" | "ATRN" | "STARTTLS" | "AUTH" | "BDAT" => {
                self.reply("502 5.5.1 Command not implemented").await?
            }
            _ => self.reply("500 5.5.2 Command not recognized").await?,
        }
        Ok(Next::Continue)
    }

    async fn mail(&mut self, args: &str) -> io::Result<()> {
        if !self.greeted {
            return self.reply("503 5.5.1 Send EHLO or HELO first").await;
        }
        if self.transaction.is_some() {
            return self.reply("503 5.5.1 Nested MAIL command").await;
        }
        let Some((address, params)) = strip_prefix_ignore_case(args, "FROM:").and_then(parse_path)
        else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        let eight_bit_offered = self.shared.eight_bit_mime.load(Ordering::SeqCst);
        let eight_bit_mime = match check_mail_params(params, eight_bit_offered) {
            Ok(eight_bit_mime) => eight_bit_mime,
            Err(refusal) => return self.reply(refusal).await,
        };
        self.transaction = Some(Transaction {
            mail_from: address,
            rcpt_to: Vec::new(),
            eight_bit_mime,
            after_data: Vec::new(),
        });
        self.reply("250 2.1.0 Ok").await
    }

    async fn rcpt(&mut self, args: &str) -> io::Result<Next> {
        let parsed = strip_prefix_ignore_case(args, "TO:").and_then(parse_path);
        let Some((address, params)) = parsed.filter(|(address, _)| !address.is_empty()) else {
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await?;
            return Ok(Next::Continue);
        };
        self.shared.count_attempt(&address);
        let reply = match self.transaction.as_mut() {
            None => "503 5.5.1 Need MAIL before RCPT",
            Some(_) if !params.is_empty() => "555 5.5.4 Unsupported RCPT parameter",
            Some(tx) if tx.rcpt_to.len() >= MAX_RECIPIENTS => "452 4.5.3 Too many recipients",
            Some(tx) => match self.shared.behaviour_for(&address) {
                Behaviour::Close421 => {
                    self.reply("421 4.3.2 Service shutting down, closing transmission channel")
                        .await?;
                    return Ok(Next::Close);
                }
                Behaviour::Defer451 => "451 4.3.0 Temporary failure, try again later",
                Behaviour::UnknownMailbox => "550 5.1.1 Mailbox does not exist",
                after_data => {
                    tx.rcpt_to.push(address);
                    tx.after_data.push(after_data);
                    "250 2.1.5 Ok"
                }
            },
        };
        self.reply(reply).await?;
        Ok(Next::Continue)
    }

    async fn data(&mut self, args: &str) -> io::Result<Next> {
        let refusal = match &self.transaction {
            _ if !args.is_empty() => Some("501 5.5.4 Syntax: DATA"),
            None => Some("503 5.5.1 Need MAIL and RCPT before DATA"),
            Some(tx) if tx.rcpt_to.is_empty() => Some("554 5.5.1 No valid recipients"),
            Some(_) => None,
        };
        if let Some(refusal) = refusal {
            self.reply(refusal).await?;
            return Ok(Next::Continue);
        }
        self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
        self.writer.flush().await?;

        let read = tokio::time::timeout(IDLE_TIMEOUT, read_data(&mut self.reader)).await;
        let Ok(read) = read else {
            self.reply("421 4.4.2 Idle for too long, closing connection")
                .await?;
            return Ok(Next::Close);
        };
        let Some(data) = read? else {
            return Ok(Next::Gone);
        };
        self.after_data = !self.reader.buffer().is_empty();
        let tx = self
            .transaction
            .take()
            .expect("a transaction is in progress during DATA");
        let Some(data) = data else {
            self.reply("552 5.3.4 Message too big").await?;
            return Ok(Next::Continue);
        };
        match tx.outcome() {
            Outcome::Drop => return Ok(Next::Close),
            Outcome::Reject => self.reply("554 5.7.1 Message refused").await?,
            Outcome::Accept(delay) => {
                if !delay.is_zero() {
                    self.writer.flush().await?;
                    tokio::time::sleep(delay).await;
                }
                let number = self.shared.record(tx, data);
                self.reply(&format!("250 2.0.0 Ok: queued as {number}"))
                    .await?;
            }
        }
        Ok(Next::Continue)
    }
}

/// Reads one line (up to and including its LF) of at most `limit` bytes into `buf`; a longer
/// line is skipped up to its end and reported as too long.
async fn read_line_limited<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    let n = (&mut *reader)
        .take(limit as u64)
        .read_until(b'\n', buf)
        .await?;
    if buf.ends_with(b"\n") {
        return Ok(LineRead::Line);
    }
    if n < limit {
        // The client went away in the middle of a line.
        return Ok(LineRead::Eof);
    }
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(LineRead::Eof);
        }
        match available.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(LineRead::TooLong);
            }
            None => {
                let len = available.len();
                reader.consume(len);
            }
        }
    }
}

/// Reads a message after 354 up to the line ".", undoing dot-stuffing. `None` if the client went
/// away first; `Some(None)` if the message is larger than `MAX_MESSAGE_SIZE` (it is read to its
/// end anyway, and not kept).
async fn read_data<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Some(Vec::with_capacity(8 * 1024));
    let mut piece = Vec::with_capacity(1024);
    let mut at_line_start = true;
    loop {
        piece.clear();
        let n = (&mut *reader)
            .take(DATA_PIECE as u64)
            .read_until(b'\n', &mut piece)
            .await?;
        if n == 0 {
            return Ok(None);
        }
        let mut content = &piece[..];
        if at_line_start {
            if content == b".\r\n" || content == b".\n" {
                return Ok(Some(data));
            }
            if content[0] == b'.' {
                content = &content[1..];
            }
        }
        at_line_start = piece.ends_with(b"\n");
        if let Some(kept) = data.as_mut() {
            if kept.len() + content.len() > MAX_MESSAGE_SIZE {
                data = None;
            } else {
                kept.extend_from_slice(content);
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Splits `<address> PARAMS` (spaces before it allowed, brackets optional for lenience) into the
/// address and the parameters. An obsolete source route (`<@a,@b:user@c>`) is dropped.
fn parse_path(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    let (path, rest) = match text.strip_prefix('<') {
        Some(inner) => {
            let end = inner.find('>')?;
            (&inner[..end], &inner[end + 1..])
        }
        None => {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            (&text[..end], &text[end..])
        }
    };
    let path = if path.starts_with('@') {
        path.split_once(':')?.1
    } else {
        path
    };
    if path.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') {
        return None;
    }
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some((path.to_owned(), rest.trim()))
}

/// Checks the MAIL FROM parameters this server advertises; whether the body was declared
/// `8BITMIME`, or the refusal to send.
fn check_mail_params(params: &str, eight_bit_offered: bool) -> Result<bool, &'static str> {
    let mut eight_bit_mime = false;
    for param in params.split_ascii_whitespace() {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(size)) => match size.parse::<u64>() {
                Ok(size) if size > MAX_MESSAGE_SIZE as u64 => {
                    return Err("552 5.3.4 Message size exceeds fixed maximum message size")
                }
                Ok(_) => {}
                Err(_) => return Err("501 5.5.4 Bad SIZE parameter"),
            },
            ("BODY", Some(body)) if body.eq_ignore_ascii_case("7BIT") => {}
            ("BODY", Some(body)) if body.eq_ignore_ascii_case("8BITMIME") && eight_bit_offered => {
                eight_bit_mime = true;
            }
            ("SMTPUTF8", None) => {}
            ("SIZE" | "BODY" | "SMTPUTF8", _) => return Err("501 5.5.4 Bad MAIL parameter"),
            _ => return Err("555 5.5.4 Unsupported MAIL parameter"),
        }
    }
    Ok(eight_bit_mime)
}

/// The unfolded, trimmed value of the first header named `name` (case-insensitive) in the header
/// block of a raw message.
fn header_value(data: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for raw in data.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if let Some(value) = value.as_mut() {
            if !continuation {
                break;
            }
            // Unfolding removes the line break only, keeping the white space after it.
            value.extend_from_slice(line);
            continue;
        }
        if line.is_empty() {
            break;
        }
        if continuation {
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            if line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(name.as_bytes())
            {
                value = Some(line[colon + 1..].to_vec());
            }
        }
    }
    value.map(|v| String::from_utf8_lossy(&v).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    use lettre::message::Mailbox;
    use lettre::transport::smtp::Error as SmtpError;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    fn transport(server: &SmtpServer) -> AsyncSmtpTransport<Tokio1Executor> {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(server.port)
            .build()
    }

    fn message(to: &str, message_id: &str, body: &str) -> Message {
        Message::builder()
            .from(
                "Vocation <noreply@vocation.test>"
                    .parse::<Mailbox>()
                    .unwrap(),
            )
            .to(to.parse::<Mailbox>().unwrap())
            .subject("A test message")
            .message_id(Some(message_id.to_owned()))
            .body(body.to_owned())
            .unwrap()
    }

    async fn send(
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        to: &str,
    ) -> Result<(), SmtpError> {
        let id = format!("<{}@vocation.test>", next_number());
        transport
            .send(message(to, &id, "Hello.\n"))
            .await
            .map(|_| ())
    }

    fn next_number() -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::SeqCst)
    }

    fn code(error: &SmtpError) -> Option<u16> {
        error.status().map(u16::from)
    }

    async fn wait_until(what: impl Fn() -> bool) -> bool {
        for _ in 0..400 {
            if what() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        what()
    }

    #[tokio::test]
    async fn accepts_a_message_and_parses_its_headers() {
        let server = SmtpServer::start();
        let subject = "A subject long enough that a mailer may well fold it over several lines \
                       when it writes the header";
        let email = Message::builder()
            .from(
                "Vocation <noreply@vocation.test>"
                    .parse::<Mailbox>()
                    .unwrap(),
            )
            .to("Dr Martin <Martin@Example.org>".parse::<Mailbox>().unwrap())
            .subject(subject)
            .message_id(Some("<first@vocation.test>".to_owned()))
            .body(".A line starting with a dot\n..and two\nthe end\n".to_owned())
            .unwrap();
        transport(&server).send(email).await.unwrap();

        assert_eq!(server.count(), 1);
        let got = server.messages();
        let m = &got[0];
        assert_eq!(m.mail_from, "noreply@vocation.test");
        assert_eq!(m.rcpt_to, vec!["Martin@Example.org".to_owned()]);
        assert_eq!(m.header("subject").as_deref(), Some(subject));
        assert_eq!(m.header("SUBJECT").as_deref(), Some(subject));
        assert_eq!(m.message_id().as_deref(), Some("<first@vocation.test>"));
        assert!(m.header("X-Absent").is_none());
        let text = String::from_utf8(m.data.clone()).unwrap();
        assert!(
            text.contains("\r\n.A line starting with a dot\r\n..and two\r\nthe end"),
            "dot-stuffing undone: {text:?}"
        );
        assert!(!text.ends_with(".\r\n"), "no final dot line: {text:?}");
        assert!(m.at <= Instant::now());
        assert_eq!(server.count_for("martin@example.org"), 1);
        assert_eq!(server.attempts_for("MARTIN@example.org"), 1);
        assert_eq!(
            server.per_recipient(),
            HashMap::from([("martin@example.org".to_owned(), 1)])
        );
        assert_eq!(server.message_ids(), vec!["<first@vocation.test>"]);
    }

    #[test]
    fn headers_are_unfolded_and_matched_whatever_their_case() {
        let m = Received {
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: b"Received: one\r\nSubject: first part\r\n\tsecond part\r\n  third\r\n\
                    subject: another\r\nMessage-ID:\r\n <id@x>\r\n\r\nSubject: in the body\r\n"
                .to_vec(),
            eight_bit_mime: false,
            at: Instant::now(),
        };
        assert_eq!(
            m.header("Subject").as_deref(),
            Some("first part\tsecond part  third")
        );
        assert_eq!(m.header("received").as_deref(), Some("one"));
        assert_eq!(m.message_id().as_deref(), Some("<id@x>"));
        assert_eq!(m.header("Body"), None);
    }

    #[tokio::test]
    async fn an_unknown_mailbox_is_a_permanent_550() {
        let server = SmtpServer::start();
        server.set_for("Nobody@Example.org", Behaviour::UnknownMailbox);
        let error = send(&transport(&server), "nobody@example.org")
            .await
            .unwrap_err();
        assert!(error.is_permanent(), "{error:?}");
        assert_eq!(code(&error), Some(550));
        assert_eq!(server.count(), 0);
        assert_eq!(server.attempts_for("nobody@example.org"), 1);
        // Other addresses still get the default.
        send(&transport(&server), "somebody@example.org")
            .await
            .unwrap();
        assert_eq!(server.count(), 1);
    }

    #[tokio::test]
    async fn a_deferral_is_a_transient_451() {
        let server = SmtpServer::start();
        server.set_default(Behaviour::Defer451);
        let error = send(&transport(&server), "a@example.org")
            .await
            .unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(code(&error), Some(451));
        assert_eq!(server.count(), 0);
    }

    #[tokio::test]
    async fn a_421_closes_the_connection_and_the_transport_recovers() {
        let server = SmtpServer::start();
        let transport = transport(&server);
        server.set_default(Behaviour::Close421);
        let error = send(&transport, "a@example.org").await.unwrap_err();
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(code(&error), Some(421));
        assert!(
            wait_until(|| server.connections_open() == 0).await,
            "the server closed the connection"
        );
        // The pool drops the broken connection and opens a new one.
        server.set_default(Behaviour::Accept);
        send(&transport, "a@example.org").await.unwrap();
        assert_eq!(server.count(), 1);
        assert_eq!(server.attempts_for("a@example.org"), 2);
    }

    #[tokio::test]
    async fn a_554_after_data_is_permanent() {
        let server = SmtpServer::start();
        server.set_default(Behaviour::Reject554);
        let error = send(&transport(&server), "a@example.org")
            .await
            .unwrap_err();
        assert!(error.is_permanent(), "{error:?}");
        assert_eq!(code(&error), Some(554));
        assert_eq!(server.count(), 0);
    }

    #[tokio::test]
    async fn dropping_after_data_is_an_error_and_records_nothing() {
        let server = SmtpServer::start();
        let transport = transport(&server);
        server.set_for("a@example.org", Behaviour::DropAfterData);
        let error = send(&transport, "a@example.org").await.unwrap_err();
        assert!(!error.is_permanent(), "{error:?}");
        assert_eq!(code(&error), None, "{error:?}");
        assert_eq!(server.count(), 0);
        assert!(server.messages().is_empty());
        send(&transport, "b@example.org").await.unwrap();
        assert_eq!(server.count(), 1);
    }

    #[tokio::test]
    async fn a_slow_server_answers_late_then_records() {
        let server = SmtpServer::start();
        server.set_default(Behaviour::Slow(Duration::from_millis(300)));
        let started = Instant::now();
        send(&transport(&server), "a@example.org").await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(server.count(), 1);
    }

    #[tokio::test]
    async fn a_limited_rule_applies_n_times_then_accepts() {
        let server = SmtpServer::start();
        let transport = transport(&server);
        server.set_for_times("A@example.org", Behaviour::Defer451, 2);
        for _ in 0..2 {
            let error = send(&transport, "a@example.org").await.unwrap_err();
            assert_eq!(code(&error), Some(451));
        }
        send(&transport, "a@example.org").await.unwrap();
        send(&transport, "a@example.org").await.unwrap();
        assert_eq!(server.attempts_for("a@example.org"), 4);
        assert_eq!(server.count_for("a@example.org"), 2);
    }

    /// Reads one (possibly multi-line) reply: its code and its lines.
    async fn read_reply(reader: &mut BufReader<OwnedReadHalf>) -> (u16, Vec<String>) {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).await.unwrap();
            assert!(n > 0, "connection closed; got so far {lines:?}");
            assert!(line.ends_with("\r\n"), "{line:?}");
            let code = line[..3].parse().unwrap();
            let last = line.as_bytes()[3] == b' ';
            lines.push(line.trim_end().to_owned());
            if last {
                return (code, lines);
            }
        }
    }

    #[test]
    fn an_8bit_body_is_taken_only_when_8bitmime_is_announced() {
        assert_eq!(check_mail_params("BODY=8BITMIME SIZE=10", true), Ok(true));
        assert_eq!(check_mail_params("body=7bit", true), Ok(false));
        assert_eq!(check_mail_params("", true), Ok(false));
        assert!(check_mail_params("BODY=8BITMIME", false).is_err());
        assert!(check_mail_params("BODY=BINARYMIME", true).is_err());
    }

    #[tokio::test]
    async fn pipelined_commands_get_their_replies_in_order() {
        let server = SmtpServer::start();
        server.set_for("refused@example.org", Behaviour::UnknownMailbox);
        server.set_for("later@example.org", Behaviour::Defer451);
        let stream = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let (read_half, mut write_half) = stream.into_split();
        let mut reader = BufReader::new(read_half);
        assert_eq!(read_reply(&mut reader).await.0, 220);

        write_half
            .write_all(
                b"EHLO client.test\r\nMAIL FROM:<s@example.org> BODY=8BITMIME SIZE=100\r\n\
                  RCPT TO:<refused@example.org>\r\nRCPT TO:<later@example.org>\r\n\
                  RCPT TO:<ok@example.org>\r\nDATA\r\n",
            )
            .await
            .unwrap();
        let (code, ehlo) = read_reply(&mut reader).await;
        assert_eq!(code, 250);
        assert_eq!(
            &ehlo[1..],
            [
                "250-PIPELINING",
                "250-8BITMIME",
                "250-SMTPUTF8",
                "250 SIZE 52428800"
            ]
        );
        for expected in [250, 550, 451, 250, 354] {
            assert_eq!(read_reply(&mut reader).await.0, expected);
        }

        write_half
            .write_all(
                b"Subject: pipelined\r\n\r\n..dotted\r\n.\r\nNOOP\r\nRSET\r\nDATA\r\n\
                  RCPT TO:<ok@example.org>\r\nFROB\r\nVRFY x\r\nQUIT\r\n",
            )
            .await
            .unwrap();
        for expected in [250, 250, 250, 503, 503, 500, 502, 221] {
            assert_eq!(read_reply(&mut reader).await.0, expected);
        }
        let mut rest = String::new();
        assert_eq!(reader.read_line(&mut rest).await.unwrap(), 0, "{rest:?}");

        let got = server.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rcpt_to, vec!["ok@example.org".to_owned()]);
        assert_eq!(got[0].data, b"Subject: pipelined\r\n\r\n.dotted\r\n");
        assert!(got[0].eight_bit_mime);
        assert_eq!(got[0].header("subject").as_deref(), Some("pipelined"));
        assert_eq!(server.attempts_for("ok@example.org"), 2);
    }

    #[tokio::test]
    async fn fifty_concurrent_senders_are_all_recorded() {
        const SENDERS: usize = 50;
        const EACH: usize = 20;
        let server = Arc::new(SmtpServer::start());
        let all_connected = Arc::new(tokio::sync::Barrier::new(SENDERS));
        let mut tasks = Vec::new();
        for sender in 0..SENDERS {
            let server = server.clone();
            let all_connected = all_connected.clone();
            tasks.push(tokio::spawn(async move {
                let transport = transport(&server);
                let to = format!("user{sender}@example.org");
                send(&transport, &to).await.unwrap();
                // Every transport keeps its pooled connection open meanwhile.
                all_connected.wait().await;
                for _ in 1..EACH {
                    send(&transport, &to).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(server.count(), SENDERS * EACH);
        let per_recipient = server.per_recipient();
        assert_eq!(per_recipient.len(), SENDERS);
        assert!(per_recipient.values().all(|&n| n == EACH));
        let ids: HashSet<String> = server.message_ids().into_iter().collect();
        assert_eq!(ids.len(), SENDERS * EACH);
        assert!(server.max_connections_seen() >= SENDERS);
        assert_eq!(
            server.wait_for(SENDERS * EACH, Duration::ZERO).await,
            SENDERS * EACH
        );
    }

    #[tokio::test]
    async fn counting_only_keeps_counts_and_message_ids() {
        let server = SmtpServer::start_counting_only();
        let transport = transport(&server);
        for to in ["a@example.org", "b@example.org", "A@example.org"] {
            send(&transport, to).await.unwrap();
        }
        assert_eq!(server.wait_for(3, Duration::from_secs(5)).await, 3);
        assert!(server.messages().is_empty());
        assert_eq!(server.count_for("a@example.org"), 2);
        assert_eq!(server.count_for("b@example.org"), 1);
        assert_eq!(server.message_ids().len(), 3);
    }

    #[tokio::test]
    async fn dropping_the_server_stops_it() {
        let server = SmtpServer::start();
        let port = server.port;
        let idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(wait_until(|| server.connections_open() == 1).await);
        drop(server);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        // The open connection was cut.
        let mut reader = BufReader::new(idle);
        let mut greeting = String::new();
        reader.read_line(&mut greeting).await.unwrap();
        assert!(greeting.starts_with("220 "), "{greeting:?}");
        let mut rest = String::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut rest))
            .await
            .expect("the connection is closed");
        assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?} {rest:?}");
    }
}
