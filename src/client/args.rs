//! The command-line arguments of `qopy send`, `qopy get` and `qopy receive` (the subcommands themselves are
//! listed in `crate::cli`). They hold what the person typed; [`settings`](super::settings)
//! resolves the server and the upload and download modules interpret the rest.

use std::path::PathBuf;

use clap::Args;

/// `qopy send [OPTIONS] FILE...`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SendArgs {
    /// Files or directories to send; several (or a directory) travel as one tar archive;
    /// `-` reads standard input (text if it is UTF-8 and short enough, else a file)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Server URL [default: $QOPY_SERVER, then `server` in the client config file]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Lifetime, one of the server's expiry options (e.g. 5min, 1hr, 24hr) [default: the
    /// server's default]
    #[arg(long, value_name = "NAME", conflicts_with = "quick_share")]
    pub expiry: Option<String>,
    /// Delete the clip after its first download (the same as --max-downloads 1)
    #[arg(long, conflicts_with = "max_downloads")]
    pub one_time: bool,
    /// Delete the clip after N finished downloads (1 to 1000)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_downloads: Option<u32>,
    /// Quick Share: a short ID and secret, five-minute expiry, no access code
    #[arg(long)]
    pub quick_share: bool,
    /// A password mixed into the encryption key; the recipient needs it as well as the link
    #[arg(long, value_name = "PASSWORD", conflicts_with = "quick_share")]
    pub password: Option<String>,
    /// An access code the server asks for before it hands out the (encrypted) content
    #[arg(long, value_name = "CODE", conflicts_with = "quick_share")]
    pub access_code: Option<String>,
    /// Send into a drop box (its link, http(s)://HOST/drop/ID#KEY, or its ID with
    /// --server): each FILE is one item (a directory one tar archive) that only the box's
    /// owner can open
    #[arg(long, value_name = "LINK", conflicts_with_all = ["quick_share", "one_time", "max_downloads", "password", "access_code", "expiry"])]
    pub to: Option<String>,
}

/// `qopy receive [OPTIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ReceiveArgs {
    /// Server URL [default: $QOPY_SERVER, then `server` in the client config file]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// How long the drop box stays open, one of the server's expiry options (e.g. 1hr)
    /// [default: the server's default]
    #[arg(long, value_name = "NAME")]
    pub expiry: Option<String>,
    /// The directory arrivals are saved in (under their senders' names) [default: the
    /// current directory]
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// `qopy get [OPTIONS] LINK`.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct GetArgs {
    /// The link (http(s)://HOST/clip/ID#SECRET or /file/ID#SECRET), or ID#SECRET with
    /// --server
    #[arg(value_name = "LINK")]
    pub link: String,
    /// Where to write: a file, a directory (the sender's file name inside it), or `-` for
    /// standard output [default: standard output for text, the sender's file name in the
    /// current directory for files]
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Replace an existing output file
    #[arg(long)]
    pub force: bool,
    /// The password the sender mixed into the key
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// The access code the server asks for
    #[arg(long, value_name = "CODE")]
    pub access_code: Option<String>,
    /// Server URL, for a link given as ID#SECRET [default: $QOPY_SERVER, then the client
    /// config file]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
}
