//! A legend drawn beside a chart rather than inside it, so that it can never hide data.

use super::style;
use crate::plot::render::PlotError;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How a legend entry's swatch is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    Line,
    Dashed,
    Box,
}

/// One legend entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub label: String,
    pub colour: RGBColor,
    pub mark: Mark,
}

impl Entry {
    pub fn new(label: impl Into<String>, colour: RGBColor, mark: Mark) -> Entry {
        Entry { label: label.into(), colour, mark }
    }
}

/// The widest label a legend of `width_px` can hold at the label font (about 8 px per character).
pub fn max_chars(width_px: u32) -> usize {
    (width_px.saturating_sub(44) / 8).max(4) as usize
}

/// Draws `entries` top-down from `top_px` in `area`, one per 24 px row; entries that do not fit are summarised
/// as "… N more".
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    top_px: i32,
    entries: &[Entry],
) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    let font = style::label_font();
    let chars = max_chars(w);
    let fits = ((h as i32 - top_px - 24).max(24) / 24) as usize;
    for (i, e) in entries.iter().enumerate() {
        let y = top_px + 24 * i as i32;
        if i + 1 == fits && entries.len() > fits {
            area.draw_text(&format!("… {} more", entries.len() - i), &font.into_text_style(area), (8, y))?;
            break;
        }
        let mid = y + 9;
        match e.mark {
            Mark::Box => area.draw(&Rectangle::new([(6, y + 2), (22, y + 16)], e.colour.filled()))?,
            Mark::Line => area.draw(&PathElement::new(vec![(2, mid), (26, mid)], e.colour.stroke_width(3)))?,
            Mark::Dashed => {
                for x in [2, 12, 22] {
                    area.draw(&PathElement::new(vec![(x, mid), (x + 5, mid)], e.colour.stroke_width(3)))?;
                }
            }
        }
        area.draw_text(&style::shorten(&e.label, chars), &font.clone().into_text_style(area), (32, y))?;
    }
    Ok(())
}
