//! The offline commands: `alleycat rebuild` and `alleycat history import`. Each takes the data
//! directory's lock, so neither runs beside a server on the same data.

use std::path::Path;

use alleycat_ingest::{merge::MergeConfig, pipeline};
use anyhow::Context;

use crate::{config::DataArgs, data_dir};

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
