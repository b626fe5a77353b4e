// Request and response schemas of the authentication API (dj-rest-auth's field names and shapes).
import { Type, type Static } from '@sinclair/typebox'

// Long enough for any passphrase, short enough that hashing and comparing it stay cheap.
const Password = Type.String({ minLength: 1, maxLength: 4096 })
const Name = Type.String({ maxLength: 255 })

export const UserSchema = Type.Object({
  pk: Type.Integer(),
  email: Type.String({ format: 'email' }),
  name: Type.String(),
  is_staff: Type.Boolean(),
  date_joined: Type.String({ format: 'date-time' }),
}, { description: 'The signed-in user; pk, email and is_staff are read-only' })
export type UserResponse = Static<typeof UserSchema>

export const DetailSchema = Type.Object({ detail: Type.String() })
export const KeySchema = Type.Object({ key: Type.String({ description: 'API key: send it as `Authorization: Bearer <key>` (or `Token <key>`)' }) })
export const LoginResponseSchema = Type.Object({ key: Type.String(), user: UserSchema })
export const RegistrationResponseSchema = Type.Object({
  key: Type.Optional(Type.String({ description: 'Absent when e-mail verification is mandatory' })),
  detail: Type.Optional(Type.String({ description: '"Verification e-mail sent." when verification is mandatory' })),
})
/** Any error body: `{"detail": ...}` or DRF's field errors `{"<field>": ["message"], "non_field_errors": [...]}`. */
export const ErrorSchema = Type.Object({ detail: Type.Optional(Type.String()) }, { additionalProperties: true })

export const RegisterBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  password1: Password,
  password2: Password,
  name: Type.Optional(Name),
})
export const VerifyEmailBody = Type.Object({ key: Type.String({ minLength: 1, maxLength: 512 }) })
export const EmailBody = Type.Object({ email: Type.String({ format: 'email', maxLength: 254 }) })
// dj-rest-auth: a missing e-mail is a non-field error ("Must include ..."), so it is optional here.
export const LoginBody = Type.Object({ email: Type.Optional(Type.String({ maxLength: 254 })), password: Password })
export const UserUpdateBody = Type.Object({ name: Type.Optional(Name) })
export const PasswordChangeBody = Type.Object({ old_password: Password, new_password1: Password, new_password2: Password })
export const PasswordResetConfirmBody = Type.Object({
  uid: Type.String({ minLength: 1, maxLength: 64 }),
  token: Type.String({ minLength: 1, maxLength: 256 }),
  new_password1: Password,
  new_password2: Password,
})

/** OpenAPI: the ways an authenticated route accepts the key. */
export const AUTHENTICATED: Array<Record<string, string[]>> = [{ bearer: [] }, { cookie: [] }]

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]))
