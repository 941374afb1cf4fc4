//! SMTP on the wire (RFC 5321, no TLS or login: a local relay): a pool of connections,
//! each EHLO'd once and then carrying messages one after another (`MAIL`, `RCPT`, `DATA`).
//! Its sockets send at once (`TCP_NODELAY`) and a message's data goes in one write with
//! its final `.`: lettre's transport wrote that `.` apart, and Nagle's algorithm held it
//! until the relay's delayed acknowledgement, about 40 ms a message.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::extension::ClientId;

/// How long connecting, or waiting for a reply, may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why a message was not accepted: `permanent` for a 5xx reply.
#[derive(Debug)]
pub struct Refusal {
    pub permanent: bool,
    pub why: String,
}

fn network(e: std::io::Error) -> Refusal {
    Refusal {
        permanent: false,
        why: format!("the connection to the relay failed: {e}"),
    }
}

/// One open connection, past its greeting and EHLO.
struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    fn open(host: &str, port: u16) -> Result<Connection, Refusal> {
        let addresses = (host, port).to_socket_addrs().map_err(network)?;
        let mut last = std::io::Error::other(format!("{host} has no address"));
        for address in addresses {
            match TcpStream::connect_timeout(&address, TIMEOUT) {
                Ok(tcp) => return Connection::greeted(tcp),
                Err(e) => last = e,
            }
        }
        Err(network(last))
    }

    fn greeted(tcp: TcpStream) -> Result<Connection, Refusal> {
        tcp.set_nodelay(true).map_err(network)?;
        tcp.set_read_timeout(Some(TIMEOUT)).map_err(network)?;
        tcp.set_write_timeout(Some(TIMEOUT)).map_err(network)?;
        let mut connection = Connection {
            stream: BufReader::new(tcp),
        };
        connection.reply(220)?;
        connection.command(&format!("EHLO {}\r\n", ClientId::default()), 250)?;
        Ok(connection)
    }

    /// Reads a reply (its last line has a space after the code); refuses any but `want`.
    fn reply(&mut self, want: u16) -> Result<(), Refusal> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).map_err(network)? == 0 {
                return Err(network(std::io::ErrorKind::UnexpectedEof.into()));
            }
            text.push_str(line.trim_end());
            if line.as_bytes().get(3) != Some(&b'-') || text.len() > 4096 {
                break;
            }
            text.push(' ');
        }
        let code: u16 = text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        match code == want {
            true => Ok(()),
            false => Err(Refusal {
                permanent: (500..600).contains(&code),
                why: format!("the relay answered {text}"),
            }),
        }
    }

    fn command(&mut self, line: &str, want: u16) -> Result<(), Refusal> {
        self.stream
            .get_mut()
            .write_all(line.as_bytes())
            .map_err(network)?;
        self.reply(want)
    }

    fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<(), Refusal> {
        let from = envelope.from().map(ToString::to_string).unwrap_or_default();
        let utf8 =
            (envelope.from().into_iter().chain(envelope.to())).any(|a| !a.to_string().is_ascii());
        let options = match (message.is_ascii(), utf8) {
            (true, false) => "",
            (false, false) => " BODY=8BITMIME",
            (true, true) => " SMTPUTF8",
            (false, true) => " BODY=8BITMIME SMTPUTF8",
        };
        self.command(&format!("MAIL FROM:<{from}>{options}\r\n"), 250)?;
        for to in envelope.to() {
            self.command(&format!("RCPT TO:<{to}>\r\n"), 250)?;
        }
        self.command("DATA\r\n", 354)?;
        let data = stuffed(message);
        self.stream.get_mut().write_all(&data).map_err(network)?;
        self.reply(250)
    }
}

/// A message's data as sent after `DATA`: CRLF line ends, a `.` doubled at a line's start
/// (RFC 5321 4.5.2), and the final `.` line.
pub fn stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut at_line_start = true;
    for (i, &byte) in message.iter().enumerate() {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        if byte == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Connections to one relay, kept open between messages.
pub struct Pool {
    host: String,
    port: u16,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub fn new(host: &str, port: u16) -> Pool {
        Pool {
            host: host.to_string(),
            port,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends one message over an idle connection, or a new one; a connection that failed
    /// is closed rather than kept.
    pub fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), Refusal> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut connection = match idle {
            Some(connection) => connection,
            None => Connection::open(&self.host, self.port)?,
        };
        connection.send(envelope, message)?;
        (self.idle.lock().unwrap_or_else(|e| e.into_inner())).push(connection);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::stuffed;

    #[test]
    fn data_has_crlf_ends_doubled_leading_dots_and_the_final_dot() {
        assert_eq!(stuffed(b"a\n.b\r\n..c"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(stuffed(b".\r\n"), b"..\r\n.\r\n");
    }

    /// A relay on 127.0.0.1 that greets, then answers each line it reads with the next
    /// of `answers`.
    fn relay(answers: Vec<&'static str>) -> u16 {
        use std::io::{BufRead, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("a client");
            let mut reader = std::io::BufReader::new(socket.try_clone().expect("clone"));
            socket.write_all(b"220 hi\r\n").expect("greets");
            for answer in answers {
                let mut line = String::new();
                reader.read_line(&mut line).expect("reads");
                socket.write_all(answer.as_bytes()).expect("answers");
            }
        });
        port
    }

    fn envelope() -> lettre::address::Envelope {
        let address = |a: &str| a.parse().expect("an address");
        lettre::address::Envelope::new(Some(address("s@example.com")), vec![address("a@b.c")])
            .expect("an envelope")
    }

    #[test]
    fn connections_send_at_once() {
        let port = relay(vec!["250-hi\r\n250 8BITMIME\r\n"]);
        let connection = super::Connection::open("127.0.0.1", port).expect("opens");
        assert!(connection.stream.get_ref().nodelay().expect("nodelay"));
    }

    #[test]
    fn a_5xx_refusal_is_permanent_and_a_4xx_one_is_not() {
        for (answer, permanent) in [("550 no such user\r\n", true), ("451 later\r\n", false)] {
            // EHLO, MAIL, RCPT.
            let port = relay(vec!["250 hi\r\n", "250 ok\r\n", answer]);
            let pool = super::Pool::new("127.0.0.1", port);
            let refusal = pool.send(&envelope(), b"Subject: x\r\n\r\nhi\r\n");
            let refusal = refusal.expect_err("refused");
            assert_eq!(refusal.permanent, permanent, "{}", refusal.why);
            assert!(refusal.why.contains(answer.trim_end()), "{}", refusal.why);
        }
    }
}
