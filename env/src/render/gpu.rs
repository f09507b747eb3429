//! Finding a Vulkan adapter before Bevy does, so a missing driver is an error and not a panic.

use std::sync::OnceLock;

use crate::error::{EnvError, Result};

/// Name and type of the first Vulkan adapter, or a one-line error naming the packages to install.
/// The probe runs once per process.
pub fn probe_vulkan() -> Result<String> {
    static PROBE: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = wgpu::Backends::VULKAN;
            let instance = wgpu::Instance::new(desc);
            let adapters = bevy::tasks::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
            adapters
                .first()
                .map(|a| {
                    let info = a.get_info();
                    format!("{} ({:?}, driver {})", info.name, info.device_type, info.driver_info)
                })
                .ok_or_else(|| "the Vulkan loader reported no device".to_string())
        })
        .clone()
        .map_err(|detail| EnvError::NoVulkanAdapter { detail })
}
