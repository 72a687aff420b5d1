#!/usr/bin/env node
'use strict';
// The CLI entry: compiled output lives in dist/ (npm run build; npm start builds first).
require('../dist/apps/mesher/src/main.js');
