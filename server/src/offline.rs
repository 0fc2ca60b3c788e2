//! The offline commands: `alleycat rebuild`, `alleycat history import` and `alleycat invite`.
//! The first two take the data directory's lock, so neither runs beside a server on the same
//! data; `invite` only adds rows to the database (which SQLite and PostgreSQL share safely
//! between processes), so it works beside a running server.

use std::path::Path;

use alleycat_ingest::{merge::MergeConfig, pipeline};
use anyhow::Context;

use crate::{
    config::{DataArgs, InviteArgs},
    data_dir,
};

fn merge_config(data: &DataArgs) -> MergeConfig {
    MergeConfig { race_seconds: data.race_seconds, ..MergeConfig::default() }
}

/// `alleycat rebuild`: history files and results recomputed from every delivered object.
pub async fn rebuild(data: &DataArgs) -> anyhow::Result<()> {
    let _lock = data_dir::lock(&data.data_dir)?;
    let store = data.store.store_config(&data.data_dir);
    let database = data.database.database_config();
    let stats = pipeline::rebuild(&data.data_dir, &store, &database, merge_config(data))
        .await
        .context("rebuild failed")?;
    tracing::info!(
        objects = stats.objects,
        records = stats.records,
        "Rebuilt the history files and results."
    );
    Ok(())
}

/// `alleycat history import --class N FILE`.
pub async fn import(data: &DataArgs, class: u8, file: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let _lock = data_dir::lock(&data.data_dir)?;
    let store = data.store.store_config(&data.data_dir);
    let database = data.database.database_config();
    let racers =
        pipeline::import(&data.data_dir, &store, &database, class, &bytes, merge_config(data))
            .await
            .with_context(|| format!("cannot import {}", file.display()))?;
    tracing::info!(class, racers, file = %file.display(), "Imported the original-format history.");
    Ok(())
}

/// `alleycat invite [--count N]`: makes single-use invitations and prints their links, one a
/// line, on stdout.
pub async fn invite(args: &InviteArgs) -> anyhow::Result<()> {
    let data = &args.data;
    std::fs::create_dir_all(&data.data_dir)
        .with_context(|| format!("cannot create the data directory {}", data.data_dir.display()))?;
    let db =
        alleycat_ingest::db::Database::connect(&data.database.database_config(), &data.data_dir)
            .await
            .context("cannot open the database")?;
    let now = alleycat_domain::Clock::now_ms(&alleycat_domain::SystemClock);
    let links = crate::identity::invite::create(&db, &args.public_url(), args.count, now).await?;
    db.close().await;
    let mut out = std::io::stdout().lock();
    for link in &links {
        use std::io::Write;
        writeln!(out, "{link}").context("cannot print the links")?;
    }
    tracing::info!(
        invitations = links.len(),
        "Made single-use invitations; each link creates one racer."
    );
    Ok(())
}
