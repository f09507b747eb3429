//! Choosing the compute device for candle: `cpu` (the default) or `cuda[:N]` in a build with the
//! `cuda` feature.

use anyhow::{Result, bail};
use candle_core::Device;

/// Parse `cpu`, `cuda` or `cuda:N` into a device.
pub fn parse(name: &str) -> Result<Device> {
    let ordinal = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        _ => match name.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => bail!("unknown device `{name}` (expected cpu, cuda or cuda:N)"),
        },
    };
    if !cfg!(feature = "cuda") {
        bail!("--device {name} needs a build with the `cuda` feature (cargo build --release --features cuda)");
    }
    Device::new_cuda(ordinal).map_err(|e| anyhow::anyhow!("opening CUDA device {ordinal}: {e}"))
}
