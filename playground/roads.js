// The road base map: the service's own road network (`GET /roads`, when it
// runs with --roads) for the visible box, drawn on the map's canvas under
// the drivers and rides — a real map with no tile server and no internet.
// Tiles, when configured, take precedence (map.js decides).
//
// It asks once the view has settled (debounced), for the view padded on
// every side so small pans need nothing new, at the zoom rounded; one
// request at a time (a newer view aborts an older request), one answer
// kept; a view asked for (answered or failed) is not asked again until the
// view or the token changes. A 404 (no roads on the service) turns the layer off.

const DEBOUNCE_MS = 250;
/// The box asked for: the view plus this fraction of its size on each side.
const PAD = 0.5;
/// Line widths by class (major, medium, minor), in CSS pixels at zoom 15;
/// thinner when zoomed out, wider when zoomed in.
const WIDTHS = [4, 3, 1.6];
const MAX_LATITUDE = 85;
/// How near the route (screen pixels) the car must be to draw it from there.
const ROUTE_NEAR_PX = 30;
/// The credit the map's data requires (ODbL), with its link.
const COPYRIGHT_URL = 'https://www.openstreetmap.org/copyright';

/// The road colours, from the page's CSS variables.
function colours() {
  const css = getComputedStyle(document.documentElement);
  return ['--road-major', '--road-medium', '--road-minor'].map((name) => css.getPropertyValue(name).trim() || '#4a5a6a');
}

/// Web Mercator at zoom 0, in [0, 1] both ways (the map scales it).
function mercator(lat, lng) {
  const s = Math.sin((Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat)) * Math.PI) / 180);
  return [(lng + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

const contains = (outer, inner) => outer.south <= inner.south && outer.north >= inner.north
  && outer.west <= inner.west && outer.east >= inner.east;

export class RoadLayer {
  /// `token()`: the token to send, if any; `onLoad(answer)`: a new answer
  /// arrived (redraw, show its attribution).
  constructor({ token = () => '', onLoad = () => {} } = {}) {
    this.token = token;
    this.onLoad = onLoad;
    this.off = false;
    this.data = null;
    this.asking = null;
    this.controller = null;
    this.timer = null;
    this.viewKey = '';
    // The last view asked for (answered or failed): not asked again.
    this.done = '';
    this.colours = colours();
    // For tests and the curious: requests made, answers kept.
    this.requests = 0;
  }

  /// Draws the roads held for `map`'s view (asking for more when the view
  /// left them); the number of lines drawn.
  draw(map) {
    if (this.off) return 0;
    this.want(map);
    if (!this.data) return 0;
    const ctx = map.ctx;
    const size = map.worldSize();
    const c = map.project(map.center.lat, map.center.lng);
    const dx = map.width / 2 - c.x;
    const dy = map.height / 2 - c.y;
    const paths = [new Path2D(), new Path2D(), new Path2D()];
    let drawn = 0;
    for (const line of this.data.lines) {
      const path = paths[line.cls] || paths[2];
      const p = line.points;
      path.moveTo(p[0] * size + dx, p[1] * size + dy);
      for (let i = 2; i < p.length; i += 2) path.lineTo(p[i] * size + dx, p[i + 1] * size + dy);
      drawn += 1;
    }
    const scale = Math.max(0.5, Math.min(2.5, 2 ** ((map.zoom - 15) / 2)));
    ctx.save();
    ctx.setLineDash([]);
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    for (let cls = 2; cls >= 0; cls--) {
      ctx.strokeStyle = this.colours[cls];
      ctx.lineWidth = WIDTHS[cls] * scale;
      ctx.stroke(paths[cls]);
    }
    ctx.restore();
    return drawn;
  }

  /// Asks for the view's roads once it has settled, unless held or asked.
  want(map) {
    const view = {
      south: map.fromScreen(0, map.height).lat,
      north: map.fromScreen(0, 0).lat,
      west: map.fromScreen(0, 0).lng,
      east: map.fromScreen(map.width, 0).lng,
    };
    const zoom = Math.max(0, Math.min(22, Math.round(map.zoom)));
    if (this.data && this.data.zoom === zoom && contains(this.data.box, view)) {
      clearTimeout(this.timer);
      this.timer = null;
      return;
    }
    if (this.asking && this.asking.zoom === zoom && contains(this.asking.box, view)) return;
    const key = `${view.south},${view.west},${view.north},${view.east},${zoom},${this.token()}`;
    if (key === this.viewKey || key === this.done) return;
    this.viewKey = key;
    clearTimeout(this.timer);
    const h = (view.north - view.south) * PAD;
    const w = (view.east - view.west) * PAD;
    const box = {
      south: Math.max(-MAX_LATITUDE, view.south - h),
      north: Math.min(MAX_LATITUDE, view.north + h),
      west: Math.max(-180, view.west - w),
      east: Math.min(180, view.east + w),
    };
    this.timer = setTimeout(() => this.load(box, zoom, key), DEBOUNCE_MS);
  }

  async load(box, zoom, key) {
    this.timer = null;
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.asking = { box, zoom };
    this.requests += 1;
    const headers = {};
    if (this.token()) headers.authorization = `Bearer ${this.token()}`;
    const bbox = [box.south, box.west, box.north, box.east].map((v) => v.toFixed(5)).join(',');
    try {
      const response = await fetch(`/roads?bbox=${bbox}&zoom=${zoom}`, { headers, signal: controller.signal });
      if (response.status === 404) {
        this.off = true;
        return;
      }
      if (!response.ok) throw new Error(`GET /roads: ${response.status}`);
      const answer = await response.json();
      this.data = { box, zoom, lines: decode(answer), truncated: Boolean(answer.truncated) };
      this.done = key;
      this.onLoad(answer);
    } catch (error) {
      if (error.name === 'AbortError') return;
      this.done = key;
    } finally {
      if (this.controller === controller) {
        this.controller = null;
        this.asking = null;
      }
    }
  }
}

/// The answer's lines as Web Mercator points at zoom 0 (x, y, x, y, …).
function decode(answer) {
  const scale = answer.scale;
  return (answer.lines || []).map((line) => {
    const points = new Float64Array(line.length - 1);
    let lat = 0;
    let lng = 0;
    for (let i = 1; i + 1 < line.length; i += 2) {
      lat += line[i];
      lng += line[i + 1];
      const [x, y] = mercator(lat / scale, lng / scale);
      points[i - 1] = x;
      points[i] = y;
    }
    return { cls: line[0], points };
  });
}

/// Shows the data's credit in `element` (text, linked to its licence).
export function showRoadsAttribution(element, text) {
  if (!element || element.dataset.roads === 'shown') return;
  const link = document.createElement('a');
  link.href = COPYRIGHT_URL;
  link.target = '_blank';
  link.rel = 'noopener';
  link.textContent = text;
  element.replaceChildren(link);
  element.dataset.roads = 'shown';
  element.hidden = false;
}

/// Draws a road route (`[{lat, lng}]`, the car's way to the pickup) on
/// `map`, from where the car (`car`, a location or null) now is on it when
/// it is near (the route is asked for anew only every few seconds); false
/// when there is none to draw.
export function drawRoute(ctx, map, route, colour, car) {
  if (!Array.isArray(route) || route.length < 2) return false;
  let points = route.map((point) => map.toScreen(point.lat, point.lng));
  if (car) {
    const c = map.toScreen(car.lat, car.lng);
    let best = { d: ROUTE_NEAR_PX, i: -1 };
    for (let i = 1; i < points.length; i++) {
      const d = offSegment(c, points[i - 1], points[i]);
      if (d < best.d) best = { d, i };
    }
    if (best.i > 0) points = [c, ...points.slice(best.i)];
  }
  ctx.save();
  ctx.setLineDash([]);
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.strokeStyle = colour;
  ctx.lineWidth = 4;
  ctx.beginPath();
  points.forEach((p, i) => {
    if (i === 0) ctx.moveTo(p.x, p.y);
    else ctx.lineTo(p.x, p.y);
  });
  ctx.stroke();
  ctx.restore();
  return true;
}

/// The distance from `p` to the segment `a`–`b`, in screen pixels.
function offSegment(p, a, b) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2)) : 0;
  return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy);
}
