//! Makes a throwaway certificate authority and a certificate per node, for
//! trying TLS on one machine (the README's "Securing a cluster"). Real
//! clusters use their own PKI.
//!
//! ```text
//! certs --out certs node-a node-b
//! ```
//!
//! writes `certs/ca.pem`, and `certs/NAME.pem` with `certs/NAME.key` for each
//! name; each certificate is valid for the node name, `localhost`,
//! `127.0.0.1` and every `--host`, for serving and as a client certificate.
//! The CA's key is not kept: to add a node, make a new set.

use std::{fs, path::PathBuf, process::ExitCode};

use clap::Parser;
use integration::pki::Pki;

/// Writes a CA certificate and a certificate and key per node name.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The directory to write to (created if missing).
    #[arg(long, default_value = "certs")]
    out: PathBuf,
    /// An extra DNS name or IP address every certificate is valid for
    /// (repeatable).
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// The node names, one certificate each.
    #[arg(required = true)]
    names: Vec<String>,
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    fs::create_dir_all(&args.out)?;
    let pki = Pki::new("ractor_grpc example CA")?;
    let ca = args.out.join("ca.pem");
    fs::write(&ca, pki.ca_pem())?;
    println!("wrote the CA certificate to {}", ca.display());
    for name in &args.names {
        let mut names = vec![name.as_str(), "localhost", "127.0.0.1"];
        names.extend(args.hosts.iter().map(String::as_str));
        let issued = pki.issue(&names)?;
        let cert = args.out.join(format!("{name}.pem"));
        let key = args.out.join(format!("{name}.key"));
        fs::write(&cert, issued.cert_pem)?;
        write_private(&key, &issued.key_pem)?;
        println!(
            "wrote {} and {} (valid for {})",
            cert.display(),
            key.display(),
            names.join(", ")
        );
    }
    Ok(())
}

/// Writes a private key readable by its owner only.
fn write_private(path: &std::path::Path, pem: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(pem.as_bytes())
    }
    #[cfg(not(unix))]
    fs::write(path, pem)
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
