import { buildWeb } from '../scripts/build-web.js';

/** The browser layer loads the built dashboard (dist/web) from the platform's dashboard server. */
export default function setup() {
  buildWeb();
}
