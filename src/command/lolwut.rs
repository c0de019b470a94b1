//! LOLWUT [VERSION v] [args]: Redis's computer art. Version 5 draws Georg
//! Nees's "Schotter" in Braille characters, version 6 a city skyline in
//! ANSI colours, any other version (7, Shardis's default) only says the
//! version. Randomness as Redis's rand(): the art differs each call.

use super::connection::REDIS_VERSION;
use super::spec::{Acl, CommandSpec, Flags, Handler};
use super::util::{arg_i64, is, NOT_INTEGER};
use super::Ctx;
use std::f64::consts::PI;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "lolwut",
    arity: -1,
    flags: Flags::READONLY.with(Flags::FAST),
    acl: Acl::READ.with_bits(Acl::FAST),
    handler: Handler::Shard(lolwut),
    group: "server",
    since: "5.0.0",
    summary: "Display some computer art and the Redis version",
    ..CommandSpec::DEFAULT
}];

fn lolwut(ctx: &mut Ctx, argv: &[&[u8]]) {
    let mut args = argv;
    let mut version = REDIS_VERSION.to_string();
    if argv.len() >= 3 && is(argv[1], "version") {
        let Some(v) = arg_i64(argv[2]) else {
            return ctx.out.error(NOT_INTEGER);
        };
        version = format!("{}.0.0", v as u32);
        args = &argv[2..];
    }
    let v = version.as_bytes();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    let text = if (at(0) == b'5' && at(1) == b'.' && at(2) != b'9')
        || (at(0) == b'4' && at(1) == b'.' && at(2) == b'9')
    {
        lolwut5(args)
    } else if (at(0) == b'6' && at(1) == b'.' && at(2) != b'9')
        || (at(0) == b'5' && at(1) == b'.' && at(2) == b'9')
    {
        lolwut6(args)
    } else {
        Ok(format!("Redis ver. {REDIS_VERSION}\n").into_bytes())
    };
    match text {
        Ok(t) => ctx.out.verbatim(&t),
        Err(e) => ctx.out.error(e),
    }
}

/// Optional numeric arguments from `args[1]` on, defaults otherwise.
fn params<const N: usize>(args: &[&[u8]], mut v: [i64; N]) -> Result<[i64; N], &'static str> {
    for (i, slot) in v.iter_mut().enumerate() {
        if let Some(a) = args.get(i + 1) {
            *slot = arg_i64(a).ok_or(NOT_INTEGER)?;
        }
    }
    Ok(v)
}

/// C's rand(): 0..=RAND_MAX.
fn rand() -> i32 {
    (super::shard_random() >> 33) as i32
}
const RAND_MAX: f32 = 2147483647.0;

struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, color: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![color; (width * height) as usize],
        }
    }

    fn draw(&mut self, x: i32, y: i32, color: u8) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize]
        } else {
            0
        }
    }

    /// Bresenham, as lwDrawLine.
    fn line(&mut self, mut x1: i32, mut y1: i32, x2: i32, y2: i32, color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
        let mut err = dx - dy;
        loop {
            self.draw(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// lwDrawSquare, with its float / double arithmetic (and its
    /// truncated square root of 2, for the same pixels).
    #[allow(clippy::approx_constant)]
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        let size = ((size as f64 / 1.4142135623) as f32).round();
        let mut k = (PI / 4.0 + angle as f64) as f32;
        let mut px = [0i32; 4];
        let mut py = [0i32; 4];
        for j in 0..4 {
            px[j] = ((k as f64).sin() * size as f64 + x as f64).round() as i32;
            py[j] = ((k as f64).cos() * size as f64 + y as f64).round() as i32;
            k = (k as f64 + PI / 2.0) as f32;
        }
        for j in 0..4 {
            self.line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color);
        }
    }
}

fn lolwut5(args: &[&[u8]]) -> Result<Vec<u8>, &'static str> {
    let [cols, per_row, per_col] = params(args, [66, 8, 12])?;
    let (cols, per_row, per_col) = (
        cols.clamp(1, 1000) as i32,
        per_row.clamp(1, 200) as i32,
        per_col.clamp(1, 200) as i32,
    );
    let canvas = schotter(cols, per_row, per_col);
    let mut text = braille(&canvas);
    text.extend_from_slice(
        format!("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {REDIS_VERSION}\n")
            .as_bytes(),
    );
    Ok(text)
}

fn schotter(cols: i32, per_row: i32, per_col: i32) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0f32;
            if y > 1 {
                let r = || rand() as f32 / RAND_MAX / per_col as f32 * y as f32;
                let (mut r1, mut r2, mut r3) = (r(), r(), r());
                if rand() % 2 != 0 {
                    r1 = -r1;
                }
                if rand() % 2 != 0 {
                    r2 = -r2;
                }
                if rand() % 2 != 0 {
                    r3 = -r3;
                }
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// Every 2x4 pixels as one Braille character (U+2800 + bits).
fn braille(c: &Canvas) -> Vec<u8> {
    let mut text = Vec::new();
    let mut y = 0;
    while y < c.height {
        let mut x = 0;
        while x < c.width {
            let bits = [
                (0, 0),
                (0, 1),
                (0, 2),
                (1, 0),
                (1, 1),
                (1, 2),
                (0, 3),
                (1, 3),
            ];
            let mut byte = 0u32;
            for (b, (dx, dy)) in bits.iter().enumerate() {
                if c.get(x + dx, y + dy) != 0 {
                    byte |= 1 << b;
                }
            }
            let ch = char::from_u32(0x2800 + byte).unwrap_or(' ');
            let mut buf = [0u8; 4];
            text.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            x += 2;
        }
        if y != c.height - 1 {
            text.push(b'\n');
        }
        y += 4;
    }
    text
}

fn lolwut6(args: &[&[u8]]) -> Result<Vec<u8>, &'static str> {
    let [cols, rows] = params(args, [80, 20])?;
    let mut canvas = Canvas::new(cols.clamp(1, 1000) as i32, rows.clamp(1, 1000) as i32, 3);
    skyline(&mut canvas);
    let mut text = Vec::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let ce = match canvas.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.extend_from_slice(format!("\x1b[{ce} \x1b[0m").as_bytes());
        }
        if y != canvas.height - 1 {
            text.push(b'\n');
        }
    }
    text.extend_from_slice(
        format!("\nDedicated to the 8 bit game developers of past and present.\nOriginal 8 bit image from Plaguemon by hikikomori. Redis ver. {REDIS_VERSION}\n")
            .as_bytes(),
    );
    Ok(text)
}

struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

fn skyscraper(c: &mut Canvas, s: &Skyscraper) {
    let starty = c.height - 1;
    let endy = starty - s.height + 1;
    let mut y = starty;
    while y >= endy {
        for x in s.xoff..s.xoff + s.width {
            // The roof is four pixels narrower.
            if y == endy && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                continue;
            }
            let mut color = s.color;
            if s.windows
                && x > s.xoff + 1
                && x < s.xoff + s.width - 2
                && y > endy + 1
                && y < starty - 1
            {
                let relx = x - (s.xoff + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = (1 + rand() % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    if relx % 2 != 0 {
                        color = c.get(x - 1, y);
                    }
                }
            }
            c.draw(x, y, color);
        }
        y -= 1;
    }
}

fn skyline(c: &mut Canvas) {
    let h = c.height;
    for color in [2u8, 1] {
        let mut offset = -10;
        while offset < c.width {
            offset += rand() % 8;
            let width = 10 + rand() % 9;
            let height = if color == 2 {
                h / 2 + (rand() % h) / 2
            } else {
                h / 2 + (rand() % h) / 3
            };
            let s = Skyscraper {
                xoff: offset,
                width,
                height,
                windows: false,
                color,
            };
            skyscraper(c, &s);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < c.width {
        offset += rand() % 8;
        let mut width = 5 + rand() % 14;
        if width % 4 != 0 {
            width += width % 3;
        }
        let s = Skyscraper {
            xoff: offset,
            width,
            height: h / 3 + (rand() % h) / 2,
            windows: true,
            color: 0,
        };
        skyscraper(c, &s);
        offset += width + 5;
    }
}
