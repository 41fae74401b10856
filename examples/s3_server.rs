//! s3s-fs 0.14.1 (the S3 server the tests use) as a standalone process, for the S3
//! benchmark: `cargo run --release --example s3_server -- ROOT ACCESS_KEY SECRET_KEY`.
//! Binds 127.0.0.1 on a free port and prints `http://127.0.0.1:<port>` on stdout.

use std::io::Write as _;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(access), Some(secret)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: s3_server ROOT ACCESS_KEY SECRET_KEY".into());
    };
    let mut builder = S3ServiceBuilder::new(
        s3s_fs::FileSystem::new(&root).map_err(|e| format!("cannot serve {root}: {e:?}"))?,
    );
    builder.set_auth(SimpleAuth::from_single(access, secret));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (socket, _) = listener.accept().await?;
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
