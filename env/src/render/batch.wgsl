// The batch renderer's shader: Lambert plus ambient, flat shaded (one colour per triangle), with
// the procedural surface patterns applied per pixel. Every input comes from the vertex and instance buffers.
//
// A pattern cell is found from the pixel's position inside its env's tile (exact small numbers)
// through the face's projective map, never from interpolated coordinates, so a frame does not
// depend on where its tile sits in the atlas. Colours are flat for the same reason.

struct Vertex {
    @location(0) position: vec3<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
    // Per instance: clip transform, normal transform, albedo (linear) and pattern kind,
    // direction to the light and its strength, ambient and the env's tile origin, and the map
    // from tile pixels to pattern cells.
    @location(3) clip_0: vec4<f32>,
    @location(4) clip_1: vec4<f32>,
    @location(5) clip_2: vec4<f32>,
    @location(6) clip_3: vec4<f32>,
    @location(7) normal_0: vec3<f32>,
    @location(8) normal_1: vec3<f32>,
    @location(9) normal_2: vec3<f32>,
    @location(10) albedo: vec4<f32>,
    @location(11) light: vec4<f32>,
    @location(12) ambient_tile: vec4<f32>,
    @location(13) cells_0: vec3<f32>,
    @location(14) cells_1: vec3<f32>,
    @location(15) cells_2: vec3<f32>,
}

struct Shaded {
    @builtin(position) position: vec4<f32>,
    @location(0) @interpolate(flat) color: vec3<f32>,
    @location(1) @interpolate(flat) kind: f32,
    @location(2) @interpolate(flat) tile: vec2<f32>,
    @location(3) @interpolate(flat) cells_0: vec3<f32>,
    @location(4) @interpolate(flat) cells_1: vec3<f32>,
    @location(5) @interpolate(flat) cells_2: vec3<f32>,
}

@vertex
fn vertex(v: Vertex) -> Shaded {
    var out: Shaded;
    let clip = mat4x4<f32>(v.clip_0, v.clip_1, v.clip_2, v.clip_3);
    let to_world = mat3x3<f32>(v.normal_0, v.normal_1, v.normal_2);
    out.position = clip * vec4<f32>(v.position, 1.0);
    let n = normalize(to_world * v.normal);
    let lambert = max(dot(n, v.light.xyz), 0.0);
    out.color = v.albedo.rgb * (v.ambient_tile.x + v.light.w * lambert);
    out.kind = v.albedo.w;
    out.tile = v.ambient_tile.yz;
    out.cells_0 = v.cells_0;
    out.cells_1 = v.cells_1;
    out.cells_2 = v.cells_2;
    return out;
}

// The pattern's darker shade: 190/255 in sRGB, in linear terms.
const DARK: f32 = 0.5149;

@fragment
fn fragment(s: Shaded) -> @location(0) vec4<f32> {
    let q = mat3x3<f32>(s.cells_0, s.cells_1, s.cells_2) * vec3<f32>(s.position.xy - s.tile, 1.0);
    let cell = floor(q.xy / q.z);
    var shade = 1.0;
    if s.kind > 1.5 {
        // Stripes: alternate along u.
        if fract(cell.x * 0.5) > 0.25 {
            shade = DARK;
        }
    } else if s.kind > 0.5 {
        // Checker: alternate along u and v.
        if fract((cell.x + cell.y) * 0.5) > 0.25 {
            shade = DARK;
        }
    }
    return vec4<f32>(s.color * shade, 1.0);
}
