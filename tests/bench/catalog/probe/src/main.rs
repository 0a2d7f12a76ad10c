//! The latency probe of the catalog benchmark.
//!
//! Sends sequential GET requests over one keep-alive HTTP/1.1 connection and prints their
//! latency percentiles as JSON. A client written in Python spends more time per request than
//! Causeway takes to answer, which would hide the difference between the servers being
//! compared; this one costs a few microseconds.
//!
//! ```text
//! causeway-bench-probe --port 7007 [--header 'Name: value']… [--count 300] [--warmup 20]
//!                      [--budget-seconds 90] PATH…
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Options {
    port: u16,
    headers: Vec<String>,
    count: usize,
    warmup: usize,
    budget: Duration,
    paths: Vec<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        headers: Vec::new(),
        count: 300,
        warmup: 20,
        budget: Duration::from_secs(90),
        paths: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                options.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--header" => options.headers.push(value("--header")?),
            "--count" => {
                options.count = value("--count")?
                    .parse()
                    .map_err(|e| format!("--count: {e}"))?
            }
            "--warmup" => {
                options.warmup = value("--warmup")?
                    .parse()
                    .map_err(|e| format!("--warmup: {e}"))?
            }
            "--budget-seconds" => {
                let seconds: f64 = value("--budget-seconds")?
                    .parse()
                    .map_err(|e| format!("--budget-seconds: {e}"))?;
                options.budget = Duration::from_secs_f64(seconds);
            }
            path if path.starts_with('/') => options.paths.push(path.to_owned()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.port == 0 || options.paths.is_empty() {
        return Err("usage: causeway-bench-probe --port PORT [--header H]… PATH…".to_owned());
    }
    Ok(options)
}

/// One keep-alive connection.
struct Connection {
    port: u16,
    head: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Connection {
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
            self.stream = Some(BufReader::with_capacity(1 << 20, stream));
        }
        let reader = self.stream.as_mut().ok_or("no connection")?;
        let request = format!("GET {path} HTTP/1.1\r\n{}\r\n", self.head);
        reader
            .get_mut()
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(format!("no status line: {line:?}"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        } else if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line).map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                    .map_err(|e| format!("chunk size {line:?}: {e}"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        line.clear();
                        reader.read_line(&mut line).map_err(|e| e.to_string())?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size + 2, 0);
                reader
                    .read_exact(&mut body[start..])
                    .map_err(|e| e.to_string())?;
                body.truncate(start + size);
            }
        } else {
            return Err(format!("GET {path}: a response without a length"));
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

/// The `p`th percentile of sorted `values`, interpolated as the benchmark's report does.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let floor = k.floor() as usize;
    let ceil = (floor + 1).min(sorted.len() - 1);
    sorted[floor] + (sorted[ceil] - sorted[floor]) * (k - floor as f64)
}

fn run(options: &Options) -> Result<String, String> {
    let mut connection = Connection {
        port: options.port,
        head: std::iter::once(format!("Host: 127.0.0.1:{}", options.port))
            .chain(std::iter::once("Accept: application/json".to_owned()))
            .chain(options.headers.iter().cloned())
            .map(|h| h + "\r\n")
            .collect(),
        stream: None,
    };
    let paths = &options.paths;
    for i in 0..options.warmup {
        connection.get(&paths[i % paths.len()])?;
    }
    let mut latencies = Vec::with_capacity(options.count);
    let mut sizes = Vec::with_capacity(options.count);
    let started = Instant::now();
    for i in 0..options.count {
        if i >= 30 && started.elapsed() > options.budget {
            break;
        }
        let path = &paths[i % paths.len()];
        let sent = Instant::now();
        let (status, body) = connection.get(path)?;
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(format!("GET {path} -> {status}: {shown}"));
        }
        sizes.push(body.len());
    }
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    latencies.sort_by(f64::total_cmp);
    sizes.sort_unstable();
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    Ok(format!(
        "{{\"n\": {}, \"p50_ms\": {}, \"p90_ms\": {}, \"p99_ms\": {}, \"mean_ms\": {}, \"resp_bytes\": {}}}",
        latencies.len(),
        round(percentile(&latencies, 50.0)),
        round(percentile(&latencies, 90.0)),
        round(percentile(&latencies, 99.0)),
        round(mean),
        sizes[sizes.len() / 2],
    ))
}

fn main() -> ExitCode {
    match options().and_then(|o| run(&o)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("causeway-bench-probe: {message}");
            ExitCode::FAILURE
        }
    }
}
