// Minimal Backstage backend for the templates benchmark: only the scaffolder plugin (new backend
// system). It reaches the catalog only to look up a signed-in user, and runs are anonymous here.
const { createBackend } = require('@backstage/backend-defaults');
const backend = createBackend();
backend.add(require('@backstage/plugin-scaffolder-backend'));
backend.start();
