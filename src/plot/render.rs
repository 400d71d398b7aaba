//! Drawing one chart to both PNG and SVG.
//!
//! A chart is drawn twice, once per backend, from the same data: plotters' backends are different types, so the
//! drawing code is generic over [`DrawingBackend`] and each chart implements [`Chart`]. The SVG text is also
//! returned so that HTML reports can inline it without reading the file back.

use super::style;
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a chart could not be drawn or written.
#[derive(Debug)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlotError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for PlotError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        PlotError(e.to_string())
    }
}

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the whole chart on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// The files written for one chart, and the SVG text for inlining.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub png: PathBuf,
    pub svg_path: PathBuf,
    pub svg: String,
}

/// Draws `chart` into `dir/<name>.png` and `dir/<name>.svg`.
pub fn render(chart: &impl Chart, dir: &Path, name: &str) -> Result<Rendered, PlotError> {
    super::init_fonts();
    let size = chart.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        chart.draw(&root)?;
        root.present()?;
    }
    let svg_path = dir.join(format!("{name}.svg"));
    std::fs::write(&svg_path, &svg).map_err(|e| PlotError(format!("{}: {e}", svg_path.display())))?;
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE)?;
        chart.draw(&root)?;
        root.present().map_err(|e| PlotError(format!("{}: {e}", png.display())))?;
    }
    Ok(Rendered { png, svg_path, svg })
}

/// Draws a caption and a centred message in place of a chart whose data is empty, so that a degenerate run still
/// gets every plot (and the report says why it is blank rather than showing empty axes).
pub fn draw_placeholder<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    message: &str,
) -> Result<(), PlotError> {
    let (w, h) = root.dim_in_pixel();
    root.draw_text(caption, &style::caption_font().into_text_style(root), (style::MARGIN_PX as i32, 12))?;
    let text = TextStyle::from(style::desc_font()).color(&style::GREY).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Center,
    ));
    root.draw(&Text::new(message.to_string(), (w as i32 / 2, h as i32 / 2), text))?;
    Ok(())
}
