import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { loadConfig } from './app/config.js';
import { Root } from './app/Root.js';
import './index.css';

const root = createRoot(document.getElementById('root')!);
loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <Root config={config} />
      </StrictMode>,
    ),
  (err: unknown) =>
    root.render(
      <p role="alert" className="m-8 text-red-700">
        The dashboard could not load its configuration: {String(err)}
      </p>,
    ),
);
