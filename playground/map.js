// The map: Web Mercator on a canvas, pan by dragging, zoom with the wheel,
// raster tiles when configured, else the service's roads (`roads`, a
// RoadLayer from roads.js) when it has them, else a graticule. It draws what it is
// given, once per call, and reports clicks: on a marker (`onPick`) or on
// the ground (`onClick`). It holds no rides or drivers of its own; `drawn`
// says where the last draw put each marker (for picking, and for tests).
//
// One canvas, however many drivers: all the drivers of one colour are one
// path, so 5,000 of them cost a few milliseconds a frame.

import { drawRoute } from './roads.js';

const TILE = 256;
const MIN_ZOOM = 3;
const MAX_ZOOM = 19;
const CLICK_SLOP_PX = 4;
const PICK_PX = 9;
const SCALES_KM = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500];
const GRID_DEGREES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
/// Tiles kept decoded at once (a screen needs about 30).
const TILES_KEPT = 256;

/// Distances on the sphere the service uses (its radius from /config).
export function geo(config) {
  const r = Math.PI / 180;
  const kmPerDegree = config.earthRadiusKm * r;
  return {
    kmPerDegree,
    distanceKm(a, b) {
      const dlat = (b.lat - a.lat) * r;
      const dlng = (b.lng - a.lng) * r;
      const h = Math.sin(dlat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dlng / 2) ** 2;
      return 2 * config.earthRadiusKm * Math.asin(Math.min(1, Math.sqrt(h)));
    },
  };
}

/// The colours, from the page's CSS variables (one palette for the map
/// and the legend).
function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return {
    AVAILABLE: v('--available'), OFFERED: v('--offered'), ASSIGNED: v('--assigned'), OFFLINE: v('--offline'),
    SEARCHING: v('--searching'), DRIVER_FOUND: v('--found'), ARRIVED: v('--arrived'), IN_PROGRESS: v('--trip'),
    late: v('--late'), selected: v('--selected'), ground: v('--ground'), grid: v('--grid'), muted: v('--muted'),
    area: v('--area'),
  };
}

export class MapView {
  /// `config`: the service's limits; `center`, `zoom`, `tiles` (a URL
  /// template with {z}, {x}, {y}, or ''): where it starts.
  constructor(canvas, { config, center, zoom, tiles }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.maxLatitude = config.maxLatitude;
    this.geo = geo(config);
    this.center = { ...center };
    this.zoom = zoom;
    this.tiles = tiles;
    this.tileCache = new Map();
    this.colours = palette();
    this.onChange = () => {};
    this.onClick = null;
    this.onPick = null;
    this.roads = null;
    this.drawn = { drivers: new Map(), pickups: new Map(), dropoffs: new Map(), lines: [], tiles: 0, roads: 0, areas: [] };
    this.width = 0;
    this.height = 0;
    this.listen();
  }

  worldSize() {
    return TILE * 2 ** this.zoom;
  }

  project(lat, lng) {
    const size = this.worldSize();
    const s = Math.sin((Math.max(-this.maxLatitude, Math.min(this.maxLatitude, lat)) * Math.PI) / 180);
    return {
      x: ((lng + 180) / 360) * size,
      y: (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * size,
    };
  }

  unproject(x, y) {
    const size = this.worldSize();
    const lng = (x / size) * 360 - 180;
    const n = Math.PI - (2 * Math.PI * y) / size;
    const lat = (180 / Math.PI) * Math.atan(0.5 * (Math.exp(n) - Math.exp(-n)));
    return { lat, lng };
  }

  toScreen(lat, lng) {
    const c = this.project(this.center.lat, this.center.lng);
    const p = this.project(lat, lng);
    return { x: p.x - c.x + this.width / 2, y: p.y - c.y + this.height / 2 };
  }

  fromScreen(x, y) {
    const c = this.project(this.center.lat, this.center.lng);
    return this.unproject(x - this.width / 2 + c.x, y - this.height / 2 + c.y);
  }

  /// Centres and zooms the view on `points` (at least one), with a margin;
  /// `bottom`: pixels covered at the bottom (the overlays), kept clear.
  fit(points, { bottom = 0 } = {}) {
    if (points.length === 0) return false;
    let south = 90; let north = -90; let west = 180; let east = -180;
    for (const p of points) {
      south = Math.min(south, p.lat); north = Math.max(north, p.lat);
      west = Math.min(west, p.lng); east = Math.max(east, p.lng);
    }
    this.resize();
    const margin = 40;
    const w = Math.max(50, this.width - 2 * margin);
    const h = Math.max(50, this.height - 2 * margin - bottom);
    let zoom = MAX_ZOOM;
    for (; zoom > MIN_ZOOM; zoom -= 0.5) {
      this.zoom = zoom;
      const a = this.project(north, west);
      const b = this.project(south, east);
      if (b.x - a.x <= w && b.y - a.y <= h) break;
    }
    this.zoom = Math.min(zoom, 16);
    const a = this.project(north, west);
    const b = this.project(south, east);
    // Centred in the part of the canvas the overlays leave clear.
    this.center = this.unproject((a.x + b.x) / 2, (a.y + b.y) / 2 + bottom / 2);
    this.onChange();
    return true;
  }

  /// Matches the canvas to its box and the screen's pixel density.
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (width !== this.width || height !== this.height || this.ratio !== ratio) {
      this.width = width;
      this.height = height;
      this.ratio = ratio;
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
    }
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  /// Draws the `areas` served, the watched circle (`area`, `radiusKm`),
  /// the `drivers` with a location, and the `rides` (active ones only):
  /// the pickup of each ride not under way (a dotted line to a driver
  /// offered it, a dashed line from the driver on its way), and for a trip
  /// under way its dropoff, with a line from the car. `late(ride)` marks a
  /// ride that has searched too long; `selected` is a ride or driver id to
  /// ring, with its lines.
  draw({ area, radiusKm, drivers, rides, areas = [], late = () => false, selected = null }) {
    this.resize();
    const ctx = this.ctx;
    const colours = this.colours;
    const drawn = { drivers: new Map(), pickups: new Map(), dropoffs: new Map(), lines: [], tiles: 0, roads: 0, areas: [] };
    ctx.fillStyle = colours.ground;
    ctx.fillRect(0, 0, this.width, this.height);
    if (this.tiles) drawn.tiles = this.drawTiles();
    else if (!this.roads || !(drawn.roads = this.roads.draw(this))) this.drawGraticule();
    for (const served of areas) this.drawArea(served);
    drawn.areas = areas.map((served) => served.id);

    const center = this.toScreen(area.lat, area.lng);
    const edge = this.toScreen(area.lat + radiusKm / this.geo.kmPerDegree, area.lng);
    ctx.setLineDash([6, 6]);
    ctx.strokeStyle = colours.area;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.arc(center.x, center.y, Math.abs(center.y - edge.y), 0, 2 * Math.PI);
    ctx.stroke();

    const selectedRide = selected && rides.find((r) => r.id === selected);
    const line = (from, to, kind, colour, dash, ride) => {
      const a = this.toScreen(from.lat, from.lng);
      const b = this.toScreen(to.lat, to.lng);
      const chosen = selectedRide && selectedRide.id === ride.id;
      ctx.setLineDash(dash);
      ctx.strokeStyle = chosen ? colours.selected : colour;
      ctx.lineWidth = chosen ? 3 : 1.5;
      ctx.beginPath();
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
      drawn.lines.push({ kind, ride: ride.id });
    };
    for (const ride of rides) {
      const offered = ride.offer && ride.offer.driver && drivers.get(ride.offer.driver.id);
      if (offered && offered.location) line(offered.location, ride.pickup, 'offer', colours.OFFERED, [2, 4], ride);
      const driver = ride.driver && drivers.get(ride.driver.id);
      if (!driver || !driver.location) continue;
      if (ride.status === 'DRIVER_FOUND' && drawRoute(ctx, this, ride.pickupRoute, colours.ASSIGNED, driver.location)) drawn.lines.push({ kind: 'route', ride: ride.id });
      else if (ride.status === 'DRIVER_FOUND') line(driver.location, ride.pickup, 'link', colours.ASSIGNED, [4, 3], ride);
      if (ride.status === 'IN_PROGRESS' && ride.dropoff) line(driver.location, ride.dropoff, 'trip', colours.IN_PROGRESS, [], ride);
    }
    ctx.setLineDash([]);

    // Drivers: one path per status. Smaller dots when zoomed out, so a
    // city's fleet stays readable.
    const radius = this.zoom >= 14 ? 5 : this.zoom >= 12 ? 3.5 : 2;
    const byStatus = new Map();
    for (const driver of drivers.values()) {
      if (!driver.location) continue;
      const p = this.toScreen(driver.location.lat, driver.location.lng);
      drawn.drivers.set(driver.id, { x: p.x, y: p.y, status: driver.status });
      if (p.x < -10 || p.y < -10 || p.x > this.width + 10 || p.y > this.height + 10) continue;
      let path = byStatus.get(driver.status);
      if (!path) byStatus.set(driver.status, (path = new Path2D()));
      path.moveTo(p.x + radius, p.y);
      path.arc(p.x, p.y, radius, 0, 2 * Math.PI);
    }
    for (const [status, path] of byStatus) {
      ctx.fillStyle = colours[status] || colours.OFFLINE;
      ctx.fill(path);
      if (status === 'OFFERED') {
        ctx.strokeStyle = '#fff';
        ctx.lineWidth = 1.5;
        ctx.stroke(path);
      }
    }

    for (const ride of rides) {
      if (ride.status === 'IN_PROGRESS' && ride.dropoff) {
        const d = this.toScreen(ride.dropoff.lat, ride.dropoff.lng);
        drawn.dropoffs.set(ride.id, { x: d.x, y: d.y, status: ride.status });
        ctx.fillStyle = colours.IN_PROGRESS;
        ctx.strokeStyle = '#fff';
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.arc(d.x, d.y, 6, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
        continue;
      }
      const p = this.toScreen(ride.pickup.lat, ride.pickup.lng);
      const isLate = late(ride);
      drawn.pickups.set(ride.id, { x: p.x, y: p.y, status: ride.status, late: isLate });
      ctx.fillStyle = isLate ? colours.late : colours[ride.status] || colours.SEARCHING;
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = ride.status === 'ARRIVED' ? 3 : 1.5;
      ctx.fillRect(p.x - 6, p.y - 6, 12, 12);
      ctx.strokeRect(p.x - 6, p.y - 6, 12, 12);
    }

    if (selected) this.drawSelection(selected, selectedRide, drivers, drawn);
    this.drawScale();
    this.drawn = drawn;
    this.canvas.dataset.drivers = String(drawn.drivers.size);
  }

  /// Rings the selected ride's pickup (or dropoff) and its driver, or the
  /// selected driver.
  drawSelection(selected, ride, drivers, drawn) {
    const ctx = this.ctx;
    const ring = (at) => {
      if (!at) return;
      ctx.strokeStyle = this.colours.selected;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(at.x, at.y, 13, 0, 2 * Math.PI);
      ctx.stroke();
    };
    if (ride) {
      ring(drawn.pickups.get(ride.id) || drawn.dropoffs.get(ride.id));
      const driverId = (ride.driver && ride.driver.id) || (ride.offer && ride.offer.driver && ride.offer.driver.id);
      if (driverId) ring(drawn.drivers.get(driverId));
    } else if (drivers.has(selected)) {
      ring(drawn.drivers.get(selected));
    }
  }

  /// The marker under a screen point: a ride's pickup or dropoff before a
  /// driver, the nearest within a few pixels. `{kind, id}` or null.
  pick(x, y) {
    let best = null;
    let bestDistance = PICK_PX;
    const consider = (kind, markers, bonus) => {
      for (const [id, p] of markers) {
        const d = Math.hypot(p.x - x, p.y - y) - bonus;
        if (d < bestDistance) {
          bestDistance = d;
          best = { kind, id };
        }
      }
    };
    consider('ride', this.drawn.pickups, 3);
    consider('ride', this.drawn.dropoffs, 3);
    consider('driver', this.drawn.drivers, 0);
    return best;
  }

  /// A service area's outline (every ring of every polygon).
  drawArea(served) {
    const geometry = served.boundary || {};
    const polygons = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates || []];
    const ctx = this.ctx;
    const path = new Path2D();
    for (const polygon of polygons) {
      for (const ring of polygon || []) {
        ring.forEach(([lng, lat], i) => {
          const p = this.toScreen(lat, lng);
          if (i === 0) path.moveTo(p.x, p.y);
          else path.lineTo(p.x, p.y);
        });
        path.closePath();
      }
    }
    ctx.fillStyle = '#3498db14';
    ctx.fill(path, 'evenodd');
    ctx.strokeStyle = '#3498db99';
    ctx.lineWidth = 1.5;
    ctx.stroke(path);
    const top = this.toScreen(
      Math.max(...polygons.flat().flat().map(([, lat]) => lat)),
      Math.min(...polygons.flat().flat().map(([lng]) => lng)),
    );
    ctx.fillStyle = this.colours.muted;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(served.name || served.id, top.x + 4, top.y + 14);
  }

  /// Lines of latitude and longitude, a few per screen, labelled.
  drawGraticule() {
    const ctx = this.ctx;
    const nw = this.fromScreen(0, 0);
    const se = this.fromScreen(this.width, this.height);
    const span = Math.max(se.lng - nw.lng, nw.lat - se.lat);
    const step = GRID_DEGREES.find((d) => span / d <= 8) || 20;
    ctx.strokeStyle = this.colours.grid;
    ctx.fillStyle = this.colours.muted;
    ctx.lineWidth = 1;
    ctx.font = '10px system-ui, sans-serif';
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    ctx.beginPath();
    for (let lng = Math.ceil(nw.lng / step) * step; lng <= se.lng; lng += step) {
      const x = Math.round(this.toScreen(0, lng).x) + 0.5;
      ctx.moveTo(x, 0);
      ctx.lineTo(x, this.height);
      ctx.fillText(`${lng.toFixed(digits)}°`, x + 3, this.height - 4);
    }
    for (let lat = Math.ceil(se.lat / step) * step; lat <= nw.lat; lat += step) {
      const y = Math.round(this.toScreen(lat, nw.lng).y) + 0.5;
      ctx.moveTo(0, y);
      ctx.lineTo(this.width, y);
      ctx.fillText(`${lat.toFixed(digits)}°`, 3, y - 3);
    }
    ctx.stroke();
  }

  /// A scale bar, top left, in round kilometres.
  drawScale() {
    const ctx = this.ctx;
    const kmPx = Math.abs(this.toScreen(this.center.lat + 1 / this.geo.kmPerDegree, this.center.lng).y - this.height / 2);
    const km = SCALES_KM.find((k) => k * kmPx > 60) || 1000;
    const x = 14;
    const y = 28;
    ctx.fillStyle = '#0f1419cc';
    ctx.fillRect(x - 6, y - 16, km * kmPx + 12, 22);
    ctx.strokeStyle = this.colours.muted;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + km * kmPx, y);
    ctx.stroke();
    ctx.fillStyle = this.colours.muted;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(km < 1 ? `${km * 1000} m` : `${km} km`, x, y - 5);
  }

  /// The tiles covering the view, each fetched once and kept (up to
  /// TILES_KEPT); a tile still loading asks for a redraw when it arrives.
  drawTiles() {
    const ctx = this.ctx;
    const z = Math.max(0, Math.min(MAX_ZOOM, Math.floor(this.zoom)));
    const scale = 2 ** (this.zoom - z);
    const c = this.project(this.center.lat, this.center.lng);
    const left = c.x - this.width / 2;
    const top = c.y - this.height / 2;
    const tilePx = TILE * scale;
    const n = 2 ** z;
    let count = 0;
    for (let tx = Math.floor(left / tilePx); tx <= Math.floor((left + this.width) / tilePx); tx++) {
      for (let ty = Math.max(0, Math.floor(top / tilePx)); ty <= Math.min(n - 1, Math.floor((top + this.height) / tilePx)); ty++) {
        const x = ((tx % n) + n) % n;
        const url = this.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', ty);
        const image = this.tile(url);
        count += 1;
        if (image.complete && image.naturalWidth > 0) {
          ctx.drawImage(image, tx * tilePx - left, ty * tilePx - top, tilePx + 0.5, tilePx + 0.5);
        }
      }
    }
    return count;
  }

  tile(url) {
    let image = this.tileCache.get(url);
    if (image) {
      // Most recently used last.
      this.tileCache.delete(url);
      this.tileCache.set(url, image);
      return image;
    }
    image = new Image();
    image.onload = () => this.onChange();
    image.src = url;
    this.tileCache.set(url, image);
    if (this.tileCache.size > TILES_KEPT) this.tileCache.delete(this.tileCache.keys().next().value);
    return image;
  }

  listen() {
    const canvas = this.canvas;
    let drag = null;
    canvas.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: 0, center: { ...this.center } };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      drag.moved = Math.max(drag.moved, Math.hypot(dx, dy));
      const c = this.project(drag.center.lat, drag.center.lng);
      this.center = this.unproject(c.x - dx, c.y - dy);
      this.onChange();
    });
    canvas.addEventListener('pointerup', (e) => {
      const wasClick = drag && drag.moved < CLICK_SLOP_PX;
      drag = null;
      if (!wasClick) return;
      const rect = canvas.getBoundingClientRect();
      const x = e.clientX - rect.left;
      const y = e.clientY - rect.top;
      const picked = this.pick(x, y);
      if (picked && this.onPick) this.onPick(picked);
      else if (this.onClick) this.onClick(this.fromScreen(x, y));
    });
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const at = this.fromScreen(e.clientX - rect.left, e.clientY - rect.top);
      this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, this.zoom - Math.sign(e.deltaY) * 0.5));
      // Keep the point under the cursor where it was.
      const p = this.project(at.lat, at.lng);
      this.center = this.unproject(
        p.x - (e.clientX - rect.left) + this.width / 2,
        p.y - (e.clientY - rect.top) + this.height / 2,
      );
      this.onChange();
    }, { passive: false });
    window.addEventListener('resize', () => this.onChange());
  }
}
