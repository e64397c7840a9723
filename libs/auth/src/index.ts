export { ARGON2_OPTIONS, hashPassword, verifyPassword } from './password-hasher.js';
