import Foundation

/// Minimal inline-SVG charts for report.html: no JavaScript, no fonts or files from outside the page.
/// Every chart is one `<svg data-chart="ID">` element, so a test can find each chart by its ID.
/// The legend sits in its own column right of the plot area, so it never covers data, and x tick labels
/// too long for their slot are rotated, with the chart growing downwards to make room.
struct SVGChart {
  static let palette = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
  ]
  static func color(_ i: Int) -> String { palette[i % palette.count] }
  /// Average glyph width of the 10 px tick font (a little over), so estimates err towards more room.
  static let charWidth = 5.8
  static let tickAngle = 40.0

  struct LegendEntry {
    enum Style { case line, dashed, dotted, dot, box }
    var name: String
    var color: String
    var style: Style = .line
  }

  let id: String
  /// The whole SVG, legend column and rotated-label room included.
  let width: Double
  let height: Double
  let left: Double, right: Double, top = 30.0, bottom: Double
  let rotateXTicks: Bool
  var xDomain: (Double, Double)
  var yDomain: (Double, Double)
  private let legendEntries: [LegendEntry]
  private(set) var body: [String] = []

  /// `width` and `height` size the plot as before; the legend column and rotated x tick labels add to them.
  /// `xTickLabels` are the labels `axes` will get (to reserve room); `left` is room for the y tick labels.
  init(
    id: String, width: Double = 420, height: Double = 280, x: (Double, Double), y: (Double, Double),
    legend: [LegendEntry] = [], xTickLabels: [String] = [], left: Double = 56
  ) {
    self.id = id
    let legendWidth = legend.isEmpty ? 0 : 34 + SVGChart.charWidth * Double(legend.map(\.name.count).max() ?? 0)
    self.width = width + legendWidth
    self.left = left
    self.right = 14 + legendWidth
    let slot = (width - left - 14) / Double(max(1, xTickLabels.count))
    let longest = SVGChart.charWidth * Double(xTickLabels.map(\.count).max() ?? 0)
    rotateXTicks = longest > slot - 4
    let extra = rotateXTicks ? longest * sin(SVGChart.tickAngle * .pi / 180) : 0
    self.bottom = 40 + extra
    self.height = height + extra
    legendEntries = legend
    xDomain = x.0 == x.1 ? (x.0 - 1, x.1 + 1) : x
    yDomain = y.0 == y.1 ? (y.0 - 1, y.1 + 1) : y
  }

  var plotRight: Double { width - right }
  func px(_ v: Double) -> Double { left + (v - xDomain.0) / (xDomain.1 - xDomain.0) * (plotRight - left) }
  func py(_ v: Double) -> Double {
    height - bottom - (v - yDomain.0) / (yDomain.1 - yDomain.0) * (height - top - bottom)
  }

  mutating func add(_ element: String) { body.append(element) }

  /// One SVG element, attributes in the given order, `text` escaped as its content.
  static func element(_ name: String, _ attributes: KeyValuePairs<String, String>, text: String? = nil) -> String {
    let attrs = attributes.map { " \($0.key)=\"\($0.value)\"" }.joined()
    return text.map { "<\(name)\(attrs)>\(escape($0))</\(name)>" } ?? "<\(name)\(attrs)/>"
  }

  /// A rectangle in pixels.
  mutating func rect(
    x: Double, y: Double, width w: Double, height h: Double, fill: String, opacity: Double = 1, stroke: String = "none"
  ) {
    add(
      SVGChart.element(
        "rect",
        [
          "x": f(x), "y": f(y), "width": f(w), "height": f(h), "fill": fill, "fill-opacity": f(opacity),
          "stroke": stroke,
        ]))
  }

  /// A 10 px label in pixels; `anchor` start/middle/end, vertically centred on y unless `baseline` is false.
  mutating func text(
    x: Double, y: Double, _ s: String, anchor: String = "middle", centred: Bool = true, cls: String = "tick",
    fill: String? = nil, rotate: Double? = nil
  ) {
    add(
      SVGChart.textElement(x: f(x), y: f(y), s, anchor: anchor, centred: centred, cls: cls, fill: fill, rotate: rotate))
  }

  private static func textElement(
    x: String, y: String, _ s: String, anchor: String, centred: Bool, cls: String, fill: String? = nil,
    rotate: Double? = nil
  ) -> String {
    let style = fill.map { " style=\"fill:\($0)\"" } ?? ""
    let turn = rotate.map { " transform=\"rotate(\($0) \(x) \(y))\"" } ?? ""
    let middle = centred ? " dominant-baseline=\"middle\"" : ""
    return "<text x=\"\(x)\" y=\"\(y)\" text-anchor=\"\(anchor)\"\(middle) class=\"\(cls)\"\(style)\(turn)>"
      + escape(s) + "</text>"
  }

  private mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String) {
    add(SVGChart.element("line", ["x1": f(x1), "y1": f(y1), "x2": f(x2), "y2": f(y2), "stroke": stroke]))
  }

  /// Axes with "nice" ticks, light grid lines, the title and the axis labels.
  /// `yTicks: false` leaves the y axis bare (a heat map labels its rows itself).
  mutating func axes(
    title: String, xLabel: String, yLabel: String, xTicks: [(Double, String)]? = nil, yTicks: Bool = true
  ) {
    let x0 = left
    let x1 = plotRight
    let y0 = height - bottom
    let y1 = top
    for t in yTicks ? SVGChart.niceTicks(min(yDomain.0, yDomain.1), max(yDomain.0, yDomain.1)) : [] {
      line(x0, py(t), x1, py(t), stroke: "#e5e5e5")
      text(x: x0 - 5, y: py(t), SVGChart.label(t), anchor: "end")
    }
    let ticks = xTicks ?? SVGChart.niceTicks(xDomain.0, xDomain.1).map { ($0, SVGChart.label($0)) }
    for (t, label) in ticks {
      if rotateXTicks {
        text(x: px(t), y: y0 + 10, label, anchor: "end", rotate: -SVGChart.tickAngle)
      } else {
        text(x: px(t), y: y0 + 14, label, centred: false)
      }
    }
    line(x0, y0, x1, y0, stroke: "#333")
    line(x0, y0, x0, y1, stroke: "#333")
    text(x: width / 2, y: 18, title, centred: false, cls: "title")
    text(x: (x0 + x1) / 2, y: height - 6, xLabel, centred: false, cls: "axis")
    text(x: 14, y: (y0 + y1) / 2, yLabel, centred: false, cls: "axis", rotate: -90)
  }

  mutating func polyline(_ points: [(Double, Double)], color: String, dashed: Bool = false, width w: Double = 1.8) {
    guard !points.isEmpty else { return }
    let p = points.map { "\(f(px($0.0))),\(f(py($0.1)))" }.joined(separator: " ")
    let dash = dashed ? " stroke-dasharray=\"5 3\"" : ""
    add("<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(w)\"\(dash)/>")
  }

  mutating func circle(_ x: Double, _ y: Double, r: Double, color: String, opacity: Double = 1) {
    add(
      SVGChart.element(
        "circle", ["cx": f(px(x)), "cy": f(py(y)), "r": f(r), "fill": color, "fill-opacity": f(opacity)]))
  }

  /// A full-height dotted line at x (e.g. the epoch whose weights were kept).
  mutating func verticalMarker(_ x: Double, color: String = "#444") {
    add(
      SVGChart.element(
        "line",
        [
          "x1": f(px(x)), "y1": f(top), "x2": f(px(x)), "y2": f(height - bottom), "stroke": color,
          "stroke-width": "1.2", "stroke-dasharray": "2 3",
        ]))
  }

  /// The legend column, right of the plot area.
  private func legendElements() -> [String] {
    var out: [String] = []
    let x = plotRight + 12
    for (i, e) in legendEntries.enumerated() {
      let y = top + 8 + Double(i) * 15
      switch e.style {
      case .line, .dashed, .dotted:
        let dash = e.style == .dashed ? "5 3" : e.style == .dotted ? "2 3" : "none"
        out.append(
          SVGChart.element(
            "line",
            [
              "x1": f(x), "y1": f(y), "x2": f(x + 18), "y2": f(y), "stroke": e.color, "stroke-width": "2",
              "stroke-dasharray": dash,
            ]))
      case .dot:
        out.append(SVGChart.element("circle", ["cx": f(x + 9), "cy": f(y), "r": "3.5", "fill": e.color]))
      case .box:
        out.append(
          SVGChart.element("rect", ["x": f(x + 3), "y": f(y - 5), "width": "12", "height": "10", "fill": e.color]))
      }
      out.append(SVGChart.textElement(x: f(x + 24), y: f(y), e.name, anchor: "start", centred: true, cls: "tick"))
    }
    return out
  }

  var svg: String {
    let size = "width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\""
    return "<svg data-chart=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" \(size) role=\"img\">"
      + (body + legendElements()).joined() + "</svg>"
  }

  // MARK: - helpers

  func f(_ v: Double) -> String { String(format: "%.1f", v) }

  /// Round tick values (steps of 1, 2, 2.5 or 5 × 10^n; whole numbers only when `integer`).
  static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5, integer: Bool = false) -> [Double] {
    let span = hi - lo
    guard span > 0, span.isFinite else { return [lo] }
    let raw = span / Double(count)
    let mag = pow(10, floor(log10(raw)))
    var step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    if integer { step = max(1, step.rounded(.up)) }
    var t = (lo / step).rounded(.up) * step
    var out: [Double] = []
    while t <= hi + step * 1e-9 {
      out.append(abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return out
  }

  static func label(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
    let s = String(format: "%.3g", v)
    return s
  }

  static func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }

  /// Room left of the plot for right-aligned row labels (a heat map's class names) and the axis label.
  static func leftMargin(forLabels labels: [String]) -> Double {
    max(56, 30 + charWidth * Double(labels.map(\.count).max() ?? 0))
  }

  /// A domain with 5% padding, covering all values (and `include`, e.g. 0 for bars).
  static func domain(_ values: [Double], include: [Double] = [], pad: Double = 0.05) -> (Double, Double) {
    let v = (values + include).filter(\.isFinite)
    guard let lo = v.min(), let hi = v.max() else { return (0, 1) }
    let p = (hi - lo) * pad
    return (lo - p, hi + p)
  }
}
