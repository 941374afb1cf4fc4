//! Real SQL engines for the `reach sql` tests: a throwaway PostgreSQL cluster on a local
//! socket, and ClickHouse through `chdb` in a virtual environment made here.
//!
//! `.ci/run` installs PostgreSQL and sets `REACH_SQL_ENGINES=required`, so that a missing
//! engine fails the run there; elsewhere a test says what is missing and passes over it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a missing engine fails the test (CI) or only skips it.
fn required() -> bool {
    std::env::var("REACH_SQL_ENGINES").is_ok_and(|v| v == "required")
}

/// `None` (after saying why) when the engine is missing and not required.
fn unavailable<T>(engine: &str, why: String) -> Option<T> {
    assert!(!required(), "{engine} is required here: {why}");
    eprintln!("skipped: {engine} is not available ({why}); .ci/run installs it");
    None
}

fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A PostgreSQL cluster of its own, listening only on a socket in its directory.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

const PG_PORT: &str = "5432";

impl Postgres {
    /// Starts a fresh cluster (as the `postgres` user when run as root, since the server
    /// refuses root).
    pub fn start() -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            return unavailable("PostgreSQL", "no /usr/lib/postgresql/*/bin/initdb".into());
        };
        let dir = tempfile::tempdir().expect("tmp");
        let as_root = is_root();
        if as_root {
            let owner = run(Command::new("chown").arg("postgres").arg(dir.path()));
            owner.expect("chown the cluster's directory to postgres");
        }
        let data = dir.path().join("data");
        let server = |program: &str| {
            let mut c = if as_root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin.join(program));
                c
            } else {
                Command::new(bin.join(program))
            };
            c.current_dir(dir.path());
            c
        };
        run(server("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]))
        .expect("initdb");
        let options = format!(
            "-c listen_addresses='' -k {} -p {PG_PORT} -c fsync=off",
            dir.path().display()
        );
        run(server("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-w", "-l"])
            .arg(dir.path().join("log"))
            .arg("start"))
        .expect("pg_ctl start");
        Some(Postgres { dir, bin })
    }

    /// Runs SQL through psql (`-At`: unaligned, tuples only), stopping at the first error.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let file = self.dir.path().join("job.sql");
        std::fs::write(&file, sql).expect("sql file");
        run(Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", PG_PORT, "-U", "postgres", "-X", "-q", "-At"])
            .args(["-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&file))
    }

    /// Creates the table from `schema` and loads `csv` with `\copy … (FORMAT csv, HEADER
    /// true)`.
    /// Loads `csv` into `table` (made by `schema`), its columns named by the file's own
    /// header, as docs/sql.md says to (a file may lack optional columns).
    pub fn load(&self, schema: &str, table: &str, csv: &Path) -> Result<String, String> {
        let text = std::fs::read_to_string(csv).map_err(|e| e.to_string())?;
        let header = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches('\u{feff}');
        self.psql(&format!(
            "{schema}\n\\copy {table} ({header}) FROM '{}' (FORMAT csv, HEADER true)\n",
            csv.display()
        ))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ =
            run(stop
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "stop"]));
    }
}

/// The newest installed server's binaries.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// ClickHouse as a library (chdb) in a virtual environment under the target directory,
/// made once and kept for later runs.
pub struct ClickHouse {
    python: PathBuf,
    session: tempfile::TempDir,
}

/// One query's answer from chdb: rows as JSON values, or the engine's error.
pub type Answer = Result<Vec<Vec<serde_json::Value>>, String>;

impl ClickHouse {
    pub fn start() -> Option<ClickHouse> {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("chdb-venv");
        let python = venv.join("bin/python");
        let ready = venv.join("ready");
        // Tests run on several threads: one makes the environment, the others wait.
        static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
        if !ready.exists() {
            let made =
                run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|_| {
                    run(Command::new(&python).args(["-m", "pip", "install", "-q", "chdb"]))
                });
            if let Err(why) = made {
                return unavailable("chdb", why);
            }
            std::fs::write(&ready, "").expect("mark the venv ready");
        }
        Some(ClickHouse {
            python,
            session: tempfile::tempdir().expect("tmp"),
        })
    }

    /// Runs `statements`, loads each (table, csv) with `INSERT … FORMAT CSVWithNames`,
    /// then answers each query.
    pub fn run(
        &self,
        statements: &[String],
        loads: &[(&str, &Path)],
        queries: &[String],
    ) -> Result<Vec<Answer>, String> {
        let job = serde_json::json!({
            "statements": statements,
            "load": loads.iter().map(|(t, p)| serde_json::json!({"table": t, "csv": p})).collect::<Vec<_>>(),
            "queries": queries,
        });
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engines/chdb_query.py");
        let mut child = Command::new(&self.python)
            .arg(script)
            .arg(self.session.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().ok_or("stdin")?;
            stdin
                .write_all(job.to_string().as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let answers = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
            .filter(|v| v.get("loaded").is_none())
            .map(|v| match v.get("rows") {
                Some(rows) => Ok(serde_json::from_value(rows.clone()).expect("rows")),
                None => Err(v["error"].as_str().unwrap_or("?").to_string()),
            })
            .collect();
        Ok(answers)
    }
}

/// A count from an engine's answer (numbers may come quoted).
pub fn count_of(rows: &[Vec<serde_json::Value>]) -> Option<u64> {
    let cell = rows.first()?.first()?;
    cell.as_u64().or_else(|| cell.as_str()?.parse().ok())
}
