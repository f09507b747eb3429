//! The batch renderer's GPU objects: its pipeline, the packed meshes, the atlas pages with their
//! depth and readback buffers, and the one update that draws every env and reads it back.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wgpu::util::DeviceExt;

use crate::render::atlas::Atlas;
use crate::render::frames::FrameStore;
use crate::render::instance::{INSTANCE_FLOATS, Instances, TILE_ORIGIN};
use crate::render::mesh::{MeshSet, VERTEX_FLOATS};
use crate::render::profile::Mark;

const COLOR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;

/// One atlas page on the GPU.
struct PageTargets {
    color: wgpu::TextureView,
    color_texture: wgpu::Texture,
    depth: wgpu::TextureView,
    readback: wgpu::Buffer,
}

/// Everything the batch renderer keeps on the GPU between updates.
pub struct BatchGpu {
    pipeline: wgpu::RenderPipeline,
    meshes: MeshSet,
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    instances: Option<wgpu::Buffer>,
    atlas: Atlas,
    pages: Vec<PageTargets>,
    max_buffer: u64,
}

fn attributes(first: u32, formats: &[wgpu::VertexFormat]) -> Vec<wgpu::VertexAttribute> {
    let mut offset = 0;
    formats
        .iter()
        .enumerate()
        .map(|(k, &format)| {
            let a = wgpu::VertexAttribute { format, offset, shader_location: first + k as u32 };
            offset += format.size();
            a
        })
        .collect()
}

impl BatchGpu {
    /// Build the pipeline, meshes and atlas for `envs` frames of `width × height`. A device that
    /// cannot run the pipeline, or lacks the memory, is a one-line error, not a panic.
    pub fn new(device: &wgpu::Device, envs: usize, width: u32, height: u32) -> Result<Self, String> {
        let memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let built = Self::build(device, envs, width, height);
        let first_line = |e: wgpu::Error| e.to_string().lines().next().unwrap_or_default().to_string();
        if let Some(e) = bevy::tasks::block_on(validation.pop()) {
            return Err(format!("this GPU cannot run the batch renderer ({}); use the pbr renderer", first_line(e)));
        }
        if let Some(e) = bevy::tasks::block_on(memory.pop()) {
            return Err(format!("the GPU ran out of memory for the batch renderer's {envs} tiles ({})", first_line(e)));
        }
        built
    }

    fn build(device: &wgpu::Device, envs: usize, width: u32, height: u32) -> Result<Self, String> {
        let limits = device.limits();
        let atlas = Atlas::new(envs, width, height, limits.max_texture_dimension_2d).ok_or_else(|| {
            format!("a {width}×{height} frame does not fit in this GPU's {}-pixel textures", limits.max_texture_dimension_2d)
        })?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("sandtable_batch"),
            source: wgpu::ShaderSource::Wgsl(include_str!("batch.wgsl").into()),
        });
        use wgpu::VertexFormat::{Float32x2, Float32x3, Float32x4};
        let vertex_attributes = attributes(0, &[Float32x3, Float32x3, Float32x2]);
        let instance_attributes =
            attributes(3, &[Float32x4, Float32x4, Float32x4, Float32x4, Float32x3, Float32x3, Float32x3, Float32x4, Float32x4, Float32x4, Float32x3, Float32x3, Float32x3]);
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("sandtable_batch"),
            bind_group_layouts: &[],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("sandtable_batch"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vertex"),
                compilation_options: Default::default(),
                buffers: &[
                    wgpu::VertexBufferLayout {
                        array_stride: (VERTEX_FLOATS * 4) as u64,
                        step_mode: wgpu::VertexStepMode::Vertex,
                        attributes: &vertex_attributes,
                    },
                    wgpu::VertexBufferLayout {
                        array_stride: (INSTANCE_FLOATS * 4) as u64,
                        step_mode: wgpu::VertexStepMode::Instance,
                        attributes: &instance_attributes,
                    },
                ],
            },
            primitive: wgpu::PrimitiveState { cull_mode: Some(wgpu::Face::Back), ..Default::default() },
            depth_stencil: Some(wgpu::DepthStencilState {
                format: DEPTH_FORMAT,
                depth_write_enabled: Some(true),
                depth_compare: Some(wgpu::CompareFunction::Less),
                stencil: Default::default(),
                bias: Default::default(),
            }),
            multisample: Default::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fragment"),
                compilation_options: Default::default(),
                targets: &[Some(COLOR_FORMAT.into())],
            }),
            multiview_mask: None,
            cache: None,
        });
        let meshes = MeshSet::new();
        let vertices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("sandtable_batch_vertices"),
            contents: bytemuck::cast_slice(&meshes.vertices),
            usage: wgpu::BufferUsages::VERTEX,
        });
        let indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("sandtable_batch_indices"),
            contents: bytemuck::cast_slice(&meshes.indices),
            usage: wgpu::BufferUsages::INDEX,
        });
        let pages = atlas.pages.iter().map(|page| page_targets(device, &atlas, page.width, page.height, page.envs.len())).collect();
        Ok(Self { pipeline, meshes, vertices, indices, instances: None, atlas, pages, max_buffer: limits.max_buffer_size })
    }

    /// The atlas layout.
    pub fn atlas(&self) -> &Atlas {
        &self.atlas
    }

    /// Draw every env's instances into the atlas, copy it back and unpack it into `store`.
    /// An env with an empty slice of `instances` gets a black frame. `mark` hears when the work
    /// is on the queue and when the GPU has finished.
    pub fn render(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, instances: &mut Instances, store: &FrameStore, mut mark: impl FnMut(Mark)) -> Result<(), String> {
        let ranges = std::mem::take(&mut instances.ranges);
        let result = self.draw(device, queue, instances, &ranges, store, &mut mark);
        instances.ranges = ranges;
        result
    }

    fn draw(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        instances: &mut Instances,
        ranges: &[Range<u32>],
        store: &FrameStore,
        mark: &mut impl FnMut(Mark),
    ) -> Result<(), String> {
        // Each instance learns its env's tile origin, where the shader's pattern lookup starts.
        for page in &self.atlas.pages {
            for (k, env) in page.envs.clone().enumerate() {
                let (x, y) = self.atlas.tile_origin(k);
                for i in ranges.get(env).cloned().unwrap_or(0..0) {
                    let at = i as usize * INSTANCE_FLOATS + TILE_ORIGIN;
                    instances.data[at..at + 2].copy_from_slice(&[x as f32, y as f32]);
                }
            }
        }
        let bytes: &[u8] = bytemuck::cast_slice(&instances.data);
        if bytes.len() as u64 > self.max_buffer {
            return Err(format!("the batch's {} mesh instances need a {} MiB buffer, more than the GPU's limit", instances.len(), bytes.len() >> 20));
        }
        if !bytes.is_empty() {
            let too_small = self.instances.as_ref().is_none_or(|b| b.size() < bytes.len() as u64);
            if too_small {
                let size = (bytes.len() as u64).next_power_of_two().min(self.max_buffer);
                self.instances = Some(device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("sandtable_batch_instances"),
                    size,
                    usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }));
            }
            if let Some(buffer) = &self.instances {
                queue.write_buffer(buffer, 0, bytes);
            }
        }
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sandtable_batch") });
        let (fw, fh) = (self.atlas.frame_width, self.atlas.frame_height);
        for (page, targets) in self.atlas.pages.iter().zip(&self.pages) {
            {
                let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                    label: Some("sandtable_batch"),
                    color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                        view: &targets.color,
                        depth_slice: None,
                        resolve_target: None,
                        ops: wgpu::Operations { load: wgpu::LoadOp::Clear(wgpu::Color::BLACK), store: wgpu::StoreOp::Store },
                    })],
                    depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                        view: &targets.depth,
                        depth_ops: Some(wgpu::Operations { load: wgpu::LoadOp::Clear(1.0), store: wgpu::StoreOp::Discard }),
                        stencil_ops: None,
                    }),
                    timestamp_writes: None,
                    occlusion_query_set: None,
                    multiview_mask: None,
                });
                if let Some(buffer) = &self.instances {
                    pass.set_pipeline(&self.pipeline);
                    pass.set_vertex_buffer(0, self.vertices.slice(..));
                    pass.set_vertex_buffer(1, buffer.slice(..));
                    pass.set_index_buffer(self.indices.slice(..), wgpu::IndexFormat::Uint32);
                    for (k, env) in page.envs.clone().enumerate() {
                        let range = ranges.get(env).cloned().unwrap_or(0..0);
                        if range.is_empty() {
                            continue;
                        }
                        let (x, y) = self.atlas.tile_origin(k);
                        pass.set_viewport(x as f32, y as f32, fw as f32, fh as f32, 0.0, 1.0);
                        pass.set_scissor_rect(x, y, fw, fh);
                        for i in range {
                            let mesh = self.meshes.range(instances.meshes[i as usize]);
                            pass.draw_indexed(mesh.indices.clone(), mesh.base_vertex, i..i + 1);
                        }
                    }
                }
            }
            for copy in self.atlas.column_copies(page) {
                encoder.copy_texture_to_buffer(
                    wgpu::TexelCopyTextureInfo {
                        texture: &targets.color_texture,
                        mip_level: 0,
                        origin: wgpu::Origin3d { x: copy.x, y: 0, z: 0 },
                        aspect: wgpu::TextureAspect::All,
                    },
                    wgpu::TexelCopyBufferInfo {
                        buffer: &targets.readback,
                        layout: wgpu::TexelCopyBufferLayout {
                            offset: copy.offset,
                            bytes_per_row: Some(self.atlas.bytes_per_row()),
                            rows_per_image: None,
                        },
                    },
                    wgpu::Extent3d { width: self.atlas.tile_width, height: copy.height, depth_or_array_layers: 1 },
                );
            }
        }
        queue.submit([encoder.finish()]);
        mark(Mark::Submitted);
        let failed = Arc::new(AtomicBool::new(false));
        for targets in &self.pages {
            let failed = failed.clone();
            targets.readback.slice(..).map_async(wgpu::MapMode::Read, move |r| {
                if r.is_err() {
                    failed.store(true, Ordering::Release);
                }
            });
        }
        let waited = device.poll(wgpu::PollType::wait_indefinitely());
        mark(Mark::GpuDone);
        if let Err(e) = waited {
            self.unmap_all();
            return Err(format!("waiting for the GPU failed: {e}"));
        }
        if failed.load(Ordering::Acquire) {
            self.unmap_all();
            return Err("mapping the atlas readback buffer failed".into());
        }
        let tile = self.atlas.tile_bytes() as usize;
        for (page, targets) in self.atlas.pages.iter().zip(&self.pages) {
            {
                let view = targets.readback.slice(..).get_mapped_range();
                for (k, env) in page.envs.clone().enumerate() {
                    store.put_rgba(env, &view[k * tile..(k + 1) * tile], self.atlas.bytes_per_row() as usize);
                }
            }
            targets.readback.unmap();
        }
        Ok(())
    }
}

impl BatchGpu {
    /// Leave no readback buffer mapped after a failed update, so the next one can copy into it.
    fn unmap_all(&self) {
        for targets in &self.pages {
            targets.readback.unmap();
        }
    }
}

fn page_targets(device: &wgpu::Device, atlas: &Atlas, width: u32, height: u32, envs: usize) -> PageTargets {
    let size = wgpu::Extent3d { width, height, depth_or_array_layers: 1 };
    let texture = |label, format, usage| {
        device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage,
            view_formats: &[],
        })
    };
    let color_texture = texture("sandtable_batch_atlas", COLOR_FORMAT, wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC);
    let depth = texture("sandtable_batch_depth", DEPTH_FORMAT, wgpu::TextureUsages::RENDER_ATTACHMENT);
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("sandtable_batch_readback"),
        size: envs as u64 * atlas.tile_bytes(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    PageTargets {
        color: color_texture.create_view(&Default::default()),
        color_texture,
        depth: depth.create_view(&Default::default()),
        readback,
    }
}
