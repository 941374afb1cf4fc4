//! `reach apply`: the change stream of changes.md. One JSON object per input line becomes
//! an [`Edit`]; the lines that arrive together are committed together (one flush under
//! group durability) and then acknowledged in input order, each once it is durable.

use std::io::{self, Read};

use super::Context;
use reach::engine::{Durability, acknowledge};
use reach::error::Error;

pub use reach::engine::MAX_LINE;

/// Applies a stream of changes from `input`, acknowledging each line on stdout. Fails
/// (exit 1) when any line was refused, after going through them all.
pub fn apply(ctx: &Context, input: impl Read, durability: Durability) -> Result<(), Error> {
    ctx.engine.set_durability(durability);
    let stdout = io::stdout();
    let (engine, now, scope) = (&ctx.engine, ctx.now(), &reach::Scope::everything());
    let refused = acknowledge(engine, now, scope, input, &mut stdout.lock(), MAX_LINE)?;
    if refused > 0 {
        return Err(Error::Refused(format!(
            "{refused} line(s) refused (see their acknowledgements); the others were applied"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out at most `step` bytes a read, as a slow pipe does.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// The acknowledgements of `input` read `step` bytes at a time, with lines of at
    /// most 100 bytes.
    fn acks(input: &str, step: usize) -> Vec<serde_json::Value> {
        let ctx = Context::new(reach::Engine::in_memory(), Some(0), false);
        let mut out = Vec::new();
        let trickle = Trickle {
            bytes: input.as_bytes(),
            step,
        };
        let everything = reach::Scope::everything();
        acknowledge(&ctx.engine, 0, &everything, trickle, &mut out, 100).expect("runs");
        (String::from_utf8(out).expect("utf-8").lines())
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    const UPSERT: &str =
        r#"{"op":"upsert","contact":{"channel":"web","account":"w","external_id":"1"}}"#;

    #[test]
    fn a_line_over_the_limit_is_refused_by_number_and_the_stream_goes_on() {
        let long = format!(r#"{{"op": "quota", "account": "{}"}}"#, "a".repeat(200));
        for step in [1, 7, 100, 101, 1 << 20] {
            for end in ["", "\n"] {
                let input = format!("{UPSERT}\n{long}\n{UPSERT}{end}");
                let acks = acks(&input, step);
                assert_eq!(acks.len(), 3, "step {step}: {acks:?}");
                assert_eq!(acks[0]["ok"], true, "step {step}");
                assert_eq!(acks[1]["line"], 2, "step {step}");
                assert_eq!(acks[1]["ok"], false, "step {step}");
                let error = acks[1]["error"].as_str().expect("an error");
                assert!(
                    error.starts_with("line 2 is longer than 100 bytes"),
                    "{error}"
                );
                assert_eq!(acks[2]["line"], 3, "step {step}");
                assert_eq!(acks[2]["ok"], true, "step {step}: {acks:?}");
            }
        }
    }

    #[test]
    fn an_unfinished_line_over_the_limit_is_refused_at_the_end_too() {
        let input = format!("{UPSERT}\n{}", "x".repeat(1000));
        for step in [3, 1 << 20] {
            let acks = acks(&input, step);
            assert_eq!(acks.len(), 2, "{acks:?}");
            assert_eq!(acks[1]["line"], 2);
            assert_eq!(acks[1]["ok"], false);
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let padded = format!("{UPSERT:<100}");
        assert_eq!(padded.len(), 100);
        for step in [5, 1 << 20] {
            let acks = acks(&format!("{padded}\n{padded}"), step);
            assert_eq!(acks.len(), 2, "{acks:?}");
            assert!(acks.iter().all(|a| a["ok"] == true), "{acks:?}");
        }
    }
}
