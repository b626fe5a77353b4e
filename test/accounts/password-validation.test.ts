// Django's four password validators: the algorithm, the list and the messages.
import t from 'tap'
import { commonPasswords, quickRatio, validatePassword } from '../../server/accounts/password-validation.ts'

const SIMILAR_EMAIL = 'The password is too similar to the email address.'
const SIMILAR_NAME = 'The password is too similar to the name.'
const SHORT = 'This password is too short. It must contain at least 8 characters.'
const COMMON = 'This password is too common.'
const NUMERIC = 'This password is entirely numeric.'

t.test('quickRatio gives the values of Python\'s SequenceMatcher.quick_ratio', async (t) => {
  // Computed with CPython's difflib.
  t.equal(quickRatio('abcd', 'bcde'), 0.75)
  t.equal(quickRatio('ann.jones1', 'jones'), 0.6666666666666666)
  t.equal(quickRatio('annjones@example', 'ann.jones@example.com'), 0.8648648648648649)
  t.equal(quickRatio('jones-ann-2024', 'ann'), 0.35294117647058826)
  t.equal(quickRatio('', ''), 1)
})

t.test('the common-passwords list is Django\'s, loaded once', async (t) => {
  const list = commonPasswords()
  t.ok(list.size > 19_000 && list.size <= 20_000, `${list.size} entries`)
  t.ok(list.has('password123') && list.has('qwertyuiop'))
  t.equal(commonPasswords(), list, 'the same Set every time')
})

t.test('a password similar to the e-mail address, or to one of its parts, is refused', async (t) => {
  t.same(validatePassword('annjones@example', { email: 'ann.jones@example.com' }), [SIMILAR_EMAIL])
  t.same(validatePassword('Ann.Jones.Example', { email: 'ANN.JONES@example.com' }), [SIMILAR_EMAIL], 'case is ignored')
  t.same(validatePassword('jones-ann-2024', { email: 'ann.jones@example.com' }), [], 'different enough')
})

t.test('a password similar to the name is refused', async (t) => {
  t.same(validatePassword('margaretthatcher', { name: 'Margaret Thatcher' }), [SIMILAR_NAME])
  t.same(validatePassword('thatcher!', { name: 'Margaret Thatcher' }), [SIMILAR_NAME], 'one part of the name is enough')
})

t.test('a long password is not compared with a short attribute part (Django\'s length shortcut)', async (t) => {
  t.same(validatePassword('a-very-long-passphrase-about-nothing', { email: 'a@b.io' }), [])
})

t.test('each validator has Django\'s message', async (t) => {
  t.same(validatePassword('Ab1!xyz'), [SHORT])
  t.same(validatePassword('qwertyuiop'), [COMMON])
  t.same(validatePassword('QwertyUIOP'), [COMMON], 'the list is compared in lower case')
  t.same(validatePassword('40281937465510'), [NUMERIC])
  t.same(validatePassword('correct horse battery staple'), [])
})

t.test('all messages come together, in Django\'s order', async (t) => {
  t.same(validatePassword('123456', { email: '123456@example.com' }), [SIMILAR_EMAIL, SHORT, COMMON, NUMERIC])
})
