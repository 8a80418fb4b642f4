//! The operator's commands: certificates, join tokens, removing a node,
//! backups.

use std::path::PathBuf;

use clap::Args;

#[derive(Args)]
pub struct CertsArgs {
    /// Where to write them.
    #[arg(long, default_value = "certs")]
    dir: PathBuf,
    /// Node ids, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<String>,
    /// Host names and addresses the nodes are reached at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1,localhost")]
    hosts: Vec<String>,
    /// Replace existing node certificates (the CA is kept).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct InviteNodeArgs {
    /// The new node's id.
    id: String,
    /// Host names and addresses the new node is reached at, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1,localhost")]
    hosts: Vec<String>,
    /// The directory with ca.pem and ca.key, used by the node at --url.
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// HTTP address of the node that takes the token (it reads --certs).
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    url: String,
    /// The token is good for this many minutes.
    #[arg(long, default_value_t = 60)]
    minutes: u64,
}

#[derive(Args)]
pub struct RemoveNodeArgs {
    /// The node to remove.
    id: String,
    /// The directory with the CA key.
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// HTTP address of any node still in the mesh.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    url: String,
}

#[derive(Args)]
pub struct BackupArgs {
    /// The node's data directory.
    #[arg(long)]
    data: PathBuf,
    /// The backup file to write (must not exist).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    from: PathBuf,
    /// The node's data directory.
    #[arg(long)]
    data: PathBuf,
    /// Replace a database that is there.
    #[arg(long)]
    force: bool,
}

pub fn certs(args: CertsArgs) -> anyhow::Result<()> {
    let report = meshchat::trust::certs::generate(&args.dir, &args.nodes, &args.hosts, args.force)?;
    if report.reused_ca {
        println!("using the existing CA in {}", args.dir.display());
    }
    for path in report.created {
        println!("wrote {}", path.display());
    }
    Ok(())
}

pub async fn invite_node(a: InviteNodeArgs) -> anyhow::Result<()> {
    use meshchat::membership::invite;
    let token = invite::create(&a.certs, &a.id, &a.hosts, &a.url, a.minutes * 60_000)?;
    if let Err(e) = invite::check_with_node(&token).await {
        invite::discard(&a.certs, &token.key);
        return Err(e.into());
    }
    println!("{}", token.encode());
    eprintln!(
        "single use, for node {} within {} minutes: meshchat node --id {} --join <token> ...",
        a.id, a.minutes, a.id
    );
    Ok(())
}

pub async fn remove_node(a: RemoveNodeArgs) -> anyhow::Result<()> {
    meshchat::membership::remove_node(&a.certs, &a.id, &a.url).await?;
    println!("{} is out of the mesh for good; every node refuses it from now on", a.id);
    Ok(())
}

pub fn backup(a: BackupArgs) -> anyhow::Result<()> {
    let s = meshchat::store::backup::backup(&a.data, &a.out)?;
    println!("{}: {} bytes, {} rooms, {} messages", a.out.display(), s.bytes, s.rooms, s.messages);
    Ok(())
}

pub fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    let s = meshchat::store::backup::restore(&a.from, &a.data, a.force)?;
    println!("restored {} rooms, {} messages into {}", s.rooms, s.messages, a.data.display());
    println!("the node takes writes again once its peers have given back what it wrote after the backup");
    Ok(())
}
