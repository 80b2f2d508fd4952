// The map: Web Mercator on SVG, pan by dragging, zoom with the wheel,
// optional raster tiles. It draws what it is given and reports clicks; it
// holds no rides or drivers of its own.

const NS = 'http://www.w3.org/2000/svg';
const TILE = 256;
const MIN_ZOOM = 3;
const MAX_ZOOM = 19;
const CLICK_SLOP_PX = 4;
const SCALES_KM = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];

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

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}

export class MapView {
  /// `config`: the service's limits; `center`, `zoom`, `tiles` (a URL
  /// template with {z}, {x}, {y}, or ''): where it starts.
  constructor(svg, { config, center, zoom, tiles }) {
    this.svg = svg;
    this.maxLatitude = config.maxLatitude;
    this.geo = geo(config);
    this.center = { ...center };
    this.zoom = zoom;
    this.tiles = tiles;
    this.onChange = () => {};
    this.onClick = null;
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
    return { x: p.x - c.x + this.svg.clientWidth / 2, y: p.y - c.y + this.svg.clientHeight / 2 };
  }

  fromScreen(x, y) {
    const c = this.project(this.center.lat, this.center.lng);
    return this.unproject(x - this.svg.clientWidth / 2 + c.x, y - this.svg.clientHeight / 2 + c.y);
  }

  /// Draws the watched `area` (a circle of `radiusKm`), the `drivers` with
  /// a location, and the `rides` (active ones only): the pickup of each
  /// ride not under way (a dashed line to a driver offered it, a line from
  /// the driver on its way), and for a trip under way its dropoff, with a
  /// line from the car.
  draw({ area, radiusKm, drivers, rides, areas = [] }) {
    const svg = this.svg;
    svg.textContent = '';
    const g = el('g', {}, svg);
    if (this.tiles) this.drawTiles(g);
    for (const served of areas) this.drawArea(g, served);
    const center = this.toScreen(area.lat, area.lng);
    const edge = this.toScreen(area.lat + radiusKm / this.geo.kmPerDegree, area.lng);
    el('circle', { class: 'area', cx: center.x, cy: center.y, r: Math.abs(center.y - edge.y) }, g);
    const kmPx = Math.abs(this.toScreen(this.center.lat + 1 / this.geo.kmPerDegree, this.center.lng).y - svg.clientHeight / 2);
    const scaleKm = SCALES_KM.find((k) => k * kmPx > 60) || 100;
    el('line', { class: 'scale', x1: 10, y1: 20, x2: 10 + scaleKm * kmPx, y2: 20 }, g);
    el('text', { class: 'label', x: 10, y: 14 }, g).textContent = `${scaleKm} km`;

    for (const ride of rides) {
      const line = (from, to, cls) => {
        const a = this.toScreen(from.lat, from.lng);
        const b = this.toScreen(to.lat, to.lng);
        el('line', { class: cls, x1: a.x, y1: a.y, x2: b.x, y2: b.y }, g);
      };
      const offered = ride.offer && ride.offer.driver && drivers.get(ride.offer.driver.id);
      if (offered && offered.location) line(offered.location, ride.pickup, 'offer');
      const driver = ride.driver && drivers.get(ride.driver.id);
      if (!driver || !driver.location) continue;
      // On the way to the pickup; on the trip, to the dropoff.
      if (ride.status === 'DRIVER_FOUND') line(driver.location, ride.pickup, 'link');
      if (ride.status === 'IN_PROGRESS' && ride.dropoff) line(driver.location, ride.dropoff, 'trip');
    }
    for (const driver of drivers.values()) {
      if (!driver.location) continue;
      const p = this.toScreen(driver.location.lat, driver.location.lng);
      const dot = el('circle', { class: `driver ${driver.status}`, cx: p.x, cy: p.y, r: 5, 'data-driver-id': driver.id }, g);
      el('title', {}, dot).textContent = `${driver.id} ${driver.status}`;
    }
    for (const ride of rides) {
      if (ride.status === 'IN_PROGRESS' && ride.dropoff) {
        const d = this.toScreen(ride.dropoff.lat, ride.dropoff.lng);
        const flag = el('circle', { class: 'dropoff', cx: d.x, cy: d.y, r: 6, 'data-ride-id': ride.id }, g);
        el('title', {}, flag).textContent = `dropoff of ride ${ride.id}`;
        continue;
      }
      const p = this.toScreen(ride.pickup.lat, ride.pickup.lng);
      const pin = el('rect', { class: `pickup ${ride.status}`, x: p.x - 6, y: p.y - 6, width: 12, height: 12, 'data-ride-id': ride.id }, g);
      el('title', {}, pin).textContent = `ride ${ride.id} ${ride.status}`;
    }
  }

  /// A service area's outline (every ring of every polygon), named.
  drawArea(g, served) {
    const geometry = served.boundary || {};
    const polygons = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates || []];
    let d = '';
    for (const polygon of polygons) {
      for (const ring of polygon || []) {
        ring.forEach(([lng, lat], i) => {
          const p = this.toScreen(lat, lng);
          d += `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)} `;
        });
        d += 'Z ';
      }
    }
    const outline = el('path', { class: 'service-area', d, 'data-area-id': served.id }, g);
    el('title', {}, outline).textContent = `${served.name} (${served.id})`;
  }

  drawTiles(g) {
    const svg = this.svg;
    const z = Math.max(0, Math.min(MAX_ZOOM, Math.floor(this.zoom)));
    const scale = 2 ** (this.zoom - z);
    const c = this.project(this.center.lat, this.center.lng);
    const left = c.x - svg.clientWidth / 2;
    const top = c.y - svg.clientHeight / 2;
    const tilePx = TILE * scale;
    const n = 2 ** z;
    for (let tx = Math.floor(left / tilePx); tx <= Math.floor((left + svg.clientWidth) / tilePx); tx++) {
      for (let ty = Math.max(0, Math.floor(top / tilePx)); ty <= Math.min(n - 1, Math.floor((top + svg.clientHeight) / tilePx)); ty++) {
        const x = ((tx % n) + n) % n;
        const href = this.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', ty);
        el('image', { href, x: tx * tilePx - left, y: ty * tilePx - top, width: tilePx, height: tilePx }, g);
      }
    }
  }

  listen() {
    const svg = this.svg;
    let drag = null;
    svg.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: 0, center: { ...this.center } };
      svg.setPointerCapture(e.pointerId);
    });
    svg.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      drag.moved = Math.max(drag.moved, Math.hypot(dx, dy));
      const c = this.project(drag.center.lat, drag.center.lng);
      this.center = this.unproject(c.x - dx, c.y - dy);
      this.onChange();
    });
    svg.addEventListener('pointerup', (e) => {
      const wasClick = drag && drag.moved < CLICK_SLOP_PX;
      drag = null;
      if (wasClick && this.onClick) {
        const rect = svg.getBoundingClientRect();
        this.onClick(this.fromScreen(e.clientX - rect.left, e.clientY - rect.top));
      }
    });
    svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      const rect = svg.getBoundingClientRect();
      const at = this.fromScreen(e.clientX - rect.left, e.clientY - rect.top);
      this.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, this.zoom - Math.sign(e.deltaY) * 0.5));
      // Keep the point under the cursor where it was.
      const p = this.project(at.lat, at.lng);
      this.center = this.unproject(
        p.x - (e.clientX - rect.left) + svg.clientWidth / 2,
        p.y - (e.clientY - rect.top) + svg.clientHeight / 2,
      );
      this.onChange();
    }, { passive: false });
    window.addEventListener('resize', () => this.onChange());
  }
}
