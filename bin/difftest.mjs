#!/usr/bin/env node
// Entry point: run the TypeScript CLI through tsx's loader, so `npm start` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
